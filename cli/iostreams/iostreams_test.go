package iostreams

import "testing"

func TestColorEnabled(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		env  map[string]string
		want bool
	}{
		{"tty", true, nil, true},
		{"pipe", false, nil, false},
		{"no color on tty", true, map[string]string{"NO_COLOR": "1"}, false},
		{"force on pipe", false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{"force zero", false, map[string]string{"CLICOLOR_FORCE": "0"}, false},
		{"no color beats force", true, map[string]string{"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}, false},
		{"dumb terminal", true, map[string]string{"TERM": "dumb"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ColorEnabled(tt.tty, func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Fatalf("ColorEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestColorScheme(t *testing.T) {
	s, _, _, _ := Test()
	if got := s.ColorScheme().Green("ok"); got != "ok" {
		t.Fatalf("colour disabled: got %q", got)
	}
	s.SetColorEnabled(true)
	if got := s.ColorScheme().Green("ok"); got != "\x1b[32mok\x1b[0m" {
		t.Fatalf("colour enabled: got %q", got)
	}
	if s.CanPrompt() {
		t.Fatal("test streams must not prompt until TTY flags are set")
	}
	s.SetStdinTTY(true)
	s.SetStdoutTTY(true)
	if !s.CanPrompt() {
		t.Fatal("CanPrompt false with both TTY flags set")
	}
	if s.TerminalWidth() != 80 {
		t.Fatalf("width %d", s.TerminalWidth())
	}
}
