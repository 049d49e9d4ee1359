package output

import (
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
)

type item struct {
	Name    string    `json:"name"`
	Note    string    `json:"note"`
	Created time.Time `json:"created"`
}

var spec = Spec[item]{
	Kind: "thing",
	Name: func(i item) string { return i.Name },
	Columns: []Column[item]{
		Text("NAME", func(i item) string { return i.Name }),
		Age("AGE", func(i item) *time.Time { return &i.Created }),
		WideOnly(Text("NOTE", func(i item) string { return i.Note })),
	},
}

func TestPrintList(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	items := []item{{"a", "first\tline\nsecond", now.Add(-90 * time.Second)}, {"long-name", "", now.Add(-3 * time.Hour)}}
	tests := []struct {
		format Format
		tty    bool
		want   string
	}{
		{FormatTable, true, "NAME        AGE\na           1m\nlong-name   3h\n"},
		{FormatTable, false, "a\t2025-01-02T03:02:35Z\nlong-name\t2025-01-02T00:04:05Z\n"},
		{FormatWide, true, "NAME        AGE   NOTE\na           1m    first line second\nlong-name   3h\n"},
		{FormatName, true, "thing/a\nthing/long-name\n"},
		{FormatJSON, false, "[\n  {\n    \"name\": \"a\",\n    \"note\": \"first\\tline\\nsecond\",\n    \"created\": \"2025-01-02T03:02:35Z\"\n  },\n  {\n    \"name\": \"long-name\",\n    \"note\": \"\",\n    \"created\": \"2025-01-02T00:04:05Z\"\n  }\n]\n"},
		{FormatYAML, false, "- name: a\n  note: |-\n    first\tline\n    second\n  created: \"2025-01-02T03:02:35Z\"\n- name: long-name\n  note: \"\"\n  created: \"2025-01-02T00:04:05Z\"\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			ios.SetStdoutTTY(tt.tty)
			p := &Printer{IO: ios, Format: tt.format, Now: func() time.Time { return now }}
			if err := PrintList(p, spec, items); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

func TestPrintListEmpty(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	p := &Printer{IO: ios, Format: FormatTable, Now: time.Now}
	if err := PrintList(p, spec, nil); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || errOut.String() != "No things found.\n" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	ios, _, out, _ = iostreams.Test()
	p = &Printer{IO: ios, Format: FormatJSON, Now: time.Now}
	if err := PrintList(p, spec, nil); err != nil || out.String() != "[]\n" {
		t.Fatalf("empty json: %q, %v", out, err)
	}
}

func TestColouredHeader(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetColorEnabled(true)
	p := &Printer{IO: ios, Format: FormatTable, Now: time.Now}
	if err := PrintOne(p, spec, item{Name: "a", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "\x1b[1mNAME   AGE\x1b[0m\n") {
		t.Fatalf("header not bold: %q", out)
	}
}

func TestFormatValidate(t *testing.T) {
	for _, f := range Formats {
		if err := f.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if err := Format("xml").Validate(); cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
		t.Fatalf("xml: %v", err)
	}
}

func TestFormatTime(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	tests := []struct {
		t    *time.Time
		tty  bool
		want string
	}{
		{nil, true, "-"},
		{at(-5 * time.Second), true, "5s"},
		{at(-3 * time.Minute), true, "3m"},
		{at(-30 * time.Hour), true, "30h"},
		{at(-72 * time.Hour), true, "3d"},
		{at(-3 * 365 * 24 * time.Hour), true, "3y"},
		{at(2 * time.Minute), true, "in 2m"},
		{at(-time.Hour), false, "2024-12-31T23:00:00Z"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.t, tt.tty, now); got != tt.want {
			t.Errorf("FormatTime(%v, %v) = %q, want %q", tt.t, tt.tty, got, tt.want)
		}
	}
}
