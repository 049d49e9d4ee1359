// Package logging builds the process-wide slog logger from the configured level and format.
//
// The returned *slog.LevelVar lets the level change while the process runs (for example
// after a configuration reload) without rebuilding the logger.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Level names accepted by ParseLevel, in canonical form.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// Output formats accepted by ParseFormat.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// CanonicalLevel returns the canonical name for a level: one of debug, info, warn or error.
// Matching ignores case and surrounding spaces; "trace" is accepted as debug and "warning"
// as warn.
func CanonicalLevel(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace", "debug":
		return LevelDebug, nil
	case "info":
		return LevelInfo, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "error":
		return LevelError, nil
	default:
		return "", fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
	}
}

// ParseLevel converts a level name (see CanonicalLevel) into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	name, err := CanonicalLevel(s)
	if err != nil {
		return 0, err
	}
	switch name {
	case LevelDebug:
		return slog.LevelDebug, nil
	case LevelWarn:
		return slog.LevelWarn, nil
	case LevelError:
		return slog.LevelError, nil
	default:
		return slog.LevelInfo, nil
	}
}

// ParseFormat returns the canonical format name, text or json; matching ignores case.
func ParseFormat(s string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case FormatText, FormatJSON:
		return f, nil
	default:
		return "", fmt.Errorf("unknown log format %q (want text or json)", s)
	}
}

// New builds a logger that writes to w in the given format at the given level. The returned
// LevelVar controls the logger's level; setting it takes effect immediately for every logger
// derived from the returned one.
func New(level, format string, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, nil, fmt.Errorf("logging: %w", err)
	}
	f, err := ParseFormat(format)
	if err != nil {
		return nil, nil, fmt.Errorf("logging: %w", err)
	}
	lv := new(slog.LevelVar)
	lv.Set(lvl)
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if f == FormatJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), lv, nil
}

// SetLevel parses level and stores it in lv.
func SetLevel(lv *slog.LevelVar, level string) error {
	l, err := ParseLevel(level)
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	lv.Set(l)
	return nil
}
