package ui

import (
	"errors"
	"net/http"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
)

// ErrNoClient is what a view's requests answer when it has no broker client.
var ErrNoClient = errors.New("no broker client")

// StatusMsg tells the root about the broker's reachability: Err nil means a request just
// succeeded at At; otherwise the broker could not be reached or refused.
type StatusMsg struct {
	At  time.Time
	Err error
}

// Status returns a command that reports the broker's reachability to the root.
func Status(at time.Time, err error) tea.Cmd {
	return func() tea.Msg { return StatusMsg{At: at, Err: err} }
}

// WithStatus answers a command with msg and, along with it, a StatusMsg for the root.
func WithStatus(msg tea.Msg, at time.Time, err error) tea.Msg {
	return tea.BatchMsg{
		func() tea.Msg { return msg },
		Status(at, err),
	}
}

// refusal is an error a view decided from the broker's answers.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// Refused marks an error a view decided from the broker's answers (an unknown agent name):
// the broker answered, so Unreachable drops it.
func Refused(err error) error { return refusal{err} }

// Unreachable keeps the errors that say the broker could not be reached. Any answer, a
// refusal too (a 404 label, a 409 duplicate), shows the broker reachable: the view and the
// flash tell what was refused.
func Unreachable(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := client.AsError(err); ok {
		return nil
	}
	if errors.As(err, new(refusal)) {
		return nil
	}
	return err
}

// Unusable keeps the errors that say the broker cannot be used: it could not be reached,
// refused the credentials (401, 403) or failed (5xx). Any other refusal of a request says
// nothing about the broker, and neither does a change refused to a read-only key (403
// read_only): that key still reads.
func Unusable(err error) error {
	if client.IsReadOnlyRefusal(err) {
		return nil
	}
	if ae, ok := client.AsError(err); ok && ae.StatusCode < 500 && ae.StatusCode != http.StatusUnauthorized &&
		ae.StatusCode != http.StatusForbidden {
		return nil
	}
	return err
}

// CloseLive closes a live subscription (none for nil).
func CloseLive(sub *client.Subscription) {
	if sub != nil {
		_ = sub.Close()
	}
}

// CloseLiveCmd returns a command that closes a live subscription (none for nil).
func CloseLiveCmd(sub *client.Subscription) tea.Cmd {
	if sub == nil {
		return nil
	}
	return func() tea.Msg {
		CloseLive(sub)
		return nil
	}
}
