package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/brokkr/brokkr/client"
)

// ExitCode is the process exit status of brokkrctl.
//
//	0  success
//	1  an error (including 403 and every other failed request)
//	2  usage error (bad flag or argument) or an operation the user cancelled
//	4  authentication needed: no broker or PAK configured, or the broker answered 401
type ExitCode int

// Exit codes.
const (
	ExitOK     ExitCode = 0
	ExitError  ExitCode = 1
	ExitUsage  ExitCode = 2
	ExitCancel ExitCode = 2
	ExitAuth   ExitCode = 4
)

// AuthHint is printed after authentication failures.
const AuthHint = "run brokkrctl login or set BROKKR_PAK"

// FlagError is a usage error: the root prints it followed by the command's usage and exits 2.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf returns a FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap turns err into a FlagError (nil stays nil).
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	return &FlagError{err: err}
}

// CancelError means the user declined a confirmation; the root prints nothing more than a
// short notice and exits 2.
type CancelError struct{ Reason string }

func (e *CancelError) Error() string {
	if e.Reason == "" {
		return "cancelled"
	}
	return e.Reason
}

// ErrCancel is a CancelError without a reason.
var ErrCancel error = &CancelError{}

// ErrSilent makes the command exit 1 without printing anything; use it when the command
// already explained the failure on stderr.
var ErrSilent = errors.New("silent error")

// AuthError means no usable credential was found; the root prints it with its hint (AuthHint
// when empty) and exits 4.
type AuthError struct {
	Msg  string
	Hint string
}

func (e *AuthError) Error() string { return e.Msg }

// ReadOnlyHint explains a 403 read_only: the key in use is a read-only key.
const ReadOnlyHint = "this is a read-only key: this needs an admin key"

// ExitCodeOf maps an error returned by a command to the process exit status.
func ExitCodeOf(err error) ExitCode {
	if err == nil {
		return ExitOK
	}
	var flagErr *FlagError
	var cancel *CancelError
	var auth *AuthError
	switch {
	case errors.As(err, &flagErr):
		return ExitUsage
	case errors.As(err, &cancel):
		return ExitCancel
	case errors.As(err, &auth):
		return ExitAuth
	case client.IsUnauthorized(err):
		return ExitAuth
	}
	return ExitError
}

// PrintError writes err to w the way brokkrctl reports failures: once, on stderr, with the
// broker's message for API errors and a hint where one helps. ErrSilent prints nothing.
func PrintError(w io.Writer, err error) {
	if err == nil || errors.Is(err, ErrSilent) {
		return
	}
	var cancel *CancelError
	if errors.As(err, &cancel) {
		fmt.Fprintln(w, cancel.Error())
		return
	}
	var auth *AuthError
	if errors.As(err, &auth) {
		hint := auth.Hint
		if hint == "" {
			hint = AuthHint
		}
		fmt.Fprintf(w, "error: %s\nhint: %s\n", auth.Msg, hint)
		return
	}
	if e, ok := client.AsError(err); ok {
		fmt.Fprintf(w, "error: %s\n", describeAPIError(e))
		if e.StatusCode == http.StatusUnauthorized {
			fmt.Fprintf(w, "hint: %s\n", AuthHint)
		}
		if client.IsReadOnlyRefusal(e) {
			fmt.Fprintf(w, "hint: %s\n", ReadOnlyHint)
		}
		return
	}
	fmt.Fprintf(w, "error: %s\n", err)
}

func describeAPIError(e *client.Error) string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.StatusCode))
	}
	if e.StatusCode == http.StatusUnauthorized {
		msg = "authentication failed: the broker did not accept the PAK"
	}
	tag := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.Code != "" {
		tag += " " + e.Code
	}
	return fmt.Sprintf("%s (%s)", msg, tag)
}
