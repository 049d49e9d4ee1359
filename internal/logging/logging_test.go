package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestCanonicalLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "debug", want: "debug"},
		{in: "TRACE", want: "debug"},
		{in: " Info ", want: "info"},
		{in: "warn", want: "warn"},
		{in: "warning", want: "warn"},
		{in: "error", want: "error"},
		{in: "fatal", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CanonicalLevel(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CanonicalLevel(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("CanonicalLevel(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := map[string]slog.Level{
		"trace": slog.LevelDebug,
		"debug": slog.LevelDebug,
		"info":  slog.LevelInfo,
		"warn":  slog.LevelWarn,
		"error": slog.LevelError,
	}
	for in, want := range tests {
		got, err := ParseLevel(in)
		if err != nil {
			t.Fatalf("ParseLevel(%q): %v", in, err)
		}
		if got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNewJSONAndLiveLevel(t *testing.T) {
	var buf bytes.Buffer
	log, lv, err := New("info", "json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown", "k", "v")
	if err := SetLevel(lv, "debug"); err != nil {
		t.Fatal(err)
	}
	log.Debug("now visible")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("first line is not JSON: %v", err)
	}
	if rec["msg"] != "shown" || rec["k"] != "v" || rec["level"] != "INFO" {
		t.Errorf("unexpected record %v", rec)
	}
	if !strings.Contains(lines[1], `"msg":"now visible"`) {
		t.Errorf("second line = %s", lines[1])
	}
}

func TestNewText(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := New("warn", "TEXT", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("careful", "n", 3)
	got := buf.String()
	if strings.Contains(got, "hidden") {
		t.Errorf("info record written at warn level: %s", got)
	}
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "msg=careful") || !strings.Contains(got, "n=3") {
		t.Errorf("unexpected text output: %s", got)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, _, err := New("loud", "text", &bytes.Buffer{}); err == nil {
		t.Error("bad level accepted")
	}
	if _, _, err := New("info", "xml", &bytes.Buffer{}); err == nil {
		t.Error("bad format accepted")
	}
	var lv slog.LevelVar
	if err := SetLevel(&lv, "nope"); err == nil {
		t.Error("SetLevel accepted a bad level")
	}
}
