package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/brokkr/brokkr/db"
)

// Bounds of stored audit strings, in bytes. The names of the columns with a declared width
// (actor_type, action, resource_type) are cut to that width.
const (
	maxString    = 1024 // each string of details, keys included
	maxDetails   = 8192 // the whole details document
	maxUserAgent = 512
	maxAddress   = 64
)

// truncationMark ends a string that was cut.
const truncationMark = "…"

// sanitizeRecord makes a record storable whatever a client sent: PostgreSQL refuses NUL in
// text and in jsonb (\u0000), and invalid UTF-8 in text, and a client chooses the user
// agent, the forwarded address and, through the path, parts of details. NULs are removed,
// invalid UTF-8 becomes U+FFFD, and every string is cut to its bound (see above), cut
// strings ending in "…". A details document still larger than maxDetails is replaced by
// {"truncated": true, "bytes": <its size>}.
func sanitizeRecord(r *db.AuditRecord) {
	r.ActorType = cleanText(r.ActorType, 20, false)
	r.Action = cleanText(r.Action, 100, false)
	r.ResourceType = cleanText(r.ResourceType, 50, false)
	if r.IPAddress != nil {
		v := cleanText(*r.IPAddress, maxAddress, true)
		r.IPAddress = &v
	}
	if r.UserAgent != nil {
		v := cleanText(*r.UserAgent, maxUserAgent, true)
		r.UserAgent = &v
	}
	if r.Details != nil {
		r.Details = cleanDetails(r.Details)
	}
}

// cleanText removes NULs, replaces invalid UTF-8 and cuts s to at most max bytes on a
// character boundary (ending it with truncationMark when mark is set).
func cleanText(s string, max int, mark bool) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	if mark {
		cut -= len(truncationMark)
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if mark {
		return s[:cut] + truncationMark
	}
	return s[:cut]
}

// cleanDetails applies cleanText to every string (and key) of a JSON document.
func cleanDetails(b json.RawMessage) json.RawMessage {
	// A small document without an escaped NUL needs nothing: json.Marshal wrote valid UTF-8,
	// and no string in it can be longer than the document.
	if len(b) <= maxString && !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return truncatedDetails(len(b))
	}
	out, err := json.Marshal(cleanJSON(v))
	if err != nil {
		return truncatedDetails(len(b))
	}
	if len(out) > maxDetails {
		return truncatedDetails(len(out))
	}
	return out
}

func cleanJSON(v any) any {
	switch x := v.(type) {
	case string:
		return cleanText(x, maxString, true)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[cleanText(k, maxString, true)] = cleanJSON(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = cleanJSON(e)
		}
		return x
	}
	return v
}

func truncatedDetails(size int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"truncated": true, "bytes": size})
	return b
}
