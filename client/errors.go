package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is a non-2xx answer from the broker.
type Error struct {
	StatusCode int            // HTTP status
	Code       string         // stable error code, e.g. "agent_not_found" ("" when the body had none)
	Message    string         // human-readable message
	Details    map[string]any // extra facts, e.g. {"constraint": "unique_stack_name"}
	RequestID  string         // X-Request-Id of the failed request
	Method     string
	Path       string
	// RetryAfter is the delay the broker asked for with Retry-After (429, 503), uncapped; 0
	// when it named none. Callers that retry on their own schedule should wait at least this.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.Code != "" {
		return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.StatusCode, e.Code, msg)
	}
	return fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// errorFrom builds an *Error from a response. Bodies that are not the JSON error body (a
// proxy's HTML page, an empty 401 of an older broker) keep their text as the message.
func errorFrom(method, path string, status int, header http.Header, body []byte) *Error {
	e := &Error{StatusCode: status, RequestID: header.Get("X-Request-Id"), Method: method, Path: path,
		RetryAfter: parseRetryAfter(header.Get("Retry-After"))}
	var b ErrorBody
	if err := json.Unmarshal(body, &b); err == nil && (b.Code != "" || b.Message != "") {
		e.Code, e.Message, e.Details = b.Code, b.Message, b.Details
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 500 {
		text = text[:500] + "…"
	}
	e.Message = text
	return e
}

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func hasStatus(err error, status int) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode == status
}

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports a 409 (duplicate, already registered, already claimed).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsUnauthorized reports a 401: the PAK is missing, malformed or unknown.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports a 403: the PAK is valid but may not do this.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsBadRequest reports a 400 or 422: the request was invalid.
func IsBadRequest(err error) bool {
	return hasStatus(err, http.StatusBadRequest) || hasStatus(err, http.StatusUnprocessableEntity)
}

// HasCode reports whether err is an *Error with this code.
func HasCode(err error, code string) bool {
	e, ok := AsError(err)
	return ok && e.Code == code
}
