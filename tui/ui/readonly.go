package ui

import "github.com/brokkr/brokkr/client"

// ReadOnlyText explains a change the broker refused because the dashboard's key is a
// read-only key (a named read-only PAK or the read-only admin key).
const ReadOnlyText = "read-only key: this needs an admin key"

// ErrText is an action's error for the status line: a refusal of a read-only key (403
// read_only) is explained, any other error is its text.
func ErrText(err error) string {
	if client.IsReadOnlyRefusal(err) {
		return ReadOnlyText
	}
	return err.Error()
}
