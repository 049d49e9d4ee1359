package template

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// testNow is the fixed clock of the parsing tests.
var testNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// parse builds a command with newCmd and a capturing runF, runs it with args, and returns
// the options runF received (nil when the command failed before reaching it).
func parse[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, tty bool, stdin string, args []string) (*O, error) {
	t.Helper()
	var got *O
	cmd := newCmd(testFactory(tty, stdin), func(o *O) error { got = o; return nil })
	return got, execute(cmd, args)
}

func testFactory(tty bool, stdin string) *cmdutil.Factory {
	ios, in, _, _ := iostreams.Test()
	in.WriteString(stdin)
	ios.SetStdinTTY(tty)
	ios.SetStdoutTTY(tty)
	f := cmdutil.NewFactory("test", ios)
	f.Now = func() time.Time { return testNow }
	return f
}

func execute(cmd *cobra.Command, args []string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	_, err := cmd.ExecuteC()
	return err
}

// flagCase is one row of a parsing table: args either parse into want or fail with a
// usage error.
type flagCase[O any] struct {
	name    string
	args    []string
	tty     bool
	stdin   string
	want    O
	wantErr bool
}

// runTable runs every case against newCmd; clear drops the fields that are not compared
// (the Factory).
func runTable[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, clear func(*O), tests []flagCase[O]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, newCmd, tt.tty, tt.stdin, tt.args)
			if tt.wantErr {
				wantFlagError(t, tt.args, err)
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", tt.args, err)
			}
			clear(got)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("%q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// wantFlagError fails the test unless err is a usage error (exit code 2).
func wantFlagError(t *testing.T, args []string, err error) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
		t.Fatalf("%q: want a flag error, got %v", args, err)
	}
}

func sp(s string) *string { return &s }

func TestNewCmdList(t *testing.T) {
	runTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []flagCase[ListOptions]{
		{name: "defaults", want: ListOptions{Format: output.FormatTable}},
		{name: "latest", args: []string{"--latest", "-o", "wide"}, want: ListOptions{Latest: true, Format: output.FormatWide}},
		{name: "bad format", args: []string{"-o", "x"}, wantErr: true},
		{name: "extra argument", args: []string{"web"}, wantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	runTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []flagCase[GetOptions]{
		{name: "content", args: []string{"web", "--content"}, want: GetOptions{Ref: "web", Content: true, Format: output.FormatTable}},
		{name: "yaml", args: []string{"web", "-o", "yaml"}, want: GetOptions{Ref: "web", Format: output.FormatYAML}},
		{name: "missing", wantErr: true},
		{name: "bad format", args: []string{"web", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdVersions(t *testing.T) {
	runTable(t, NewCmdVersions, func(o *VersionsOptions) { o.Factory = nil }, []flagCase[VersionsOptions]{
		{name: "name", args: []string{"web", "-o", "json"}, want: VersionsOptions{Name: "web", Format: output.FormatJSON}},
		{name: "missing", wantErr: true},
		{name: "bad format", args: []string{"web", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	runTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []flagCase[DeleteOptions]{
		{name: "yes", args: []string{"web", "--yes"}, want: DeleteOptions{Ref: "web", Yes: true}},
		{name: "tty asks later", tty: true, args: []string{"web"}, want: DeleteOptions{Ref: "web"}},
		{name: "no tty needs yes", args: []string{"web"}, wantErr: true},
		{name: "missing", args: []string{"-y"}, wantErr: true},
	})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewCmdCreate(t *testing.T) {
	dir := t.TempDir()
	tmpl := writeFile(t, dir, "web.tera", "replicas: {{ replicas }}\n")
	schema := writeFile(t, dir, "schema.yaml", "type: object\nrequired: [replicas]\n")
	badSchema := writeFile(t, dir, "bad.yaml", "type: [object\n")
	runTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []flagCase[CreateOptions]{
		{name: "file without schema", args: []string{"--name", "web", "-f", tmpl},
			want: CreateOptions{Name: "web", File: tmpl, Format: output.FormatTable,
				Request: client.CreateTemplateRequest{Name: "web", TemplateContent: "replicas: {{ replicas }}\n", ParametersSchema: "{}"}}},
		{name: "stdin with yaml schema and description", args: []string{"--name", "web", "-f", "-", "--schema", schema, "--description", "d", "-o", "json"},
			stdin: "kind: {{ kind }}\n",
			want: CreateOptions{Name: "web", File: "-", Schema: schema, Description: "d", Format: output.FormatJSON,
				Request: client.CreateTemplateRequest{Name: "web", Description: sp("d"), TemplateContent: "kind: {{ kind }}\n",
					ParametersSchema: `{"required":["replicas"],"type":"object"}`}}},
		{name: "no name", args: []string{"-f", tmpl}, wantErr: true},
		{name: "no file", args: []string{"--name", "web"}, wantErr: true},
		{name: "bad schema", args: []string{"--name", "web", "-f", tmpl, "--schema", badSchema}, wantErr: true},
		{name: "bad format", args: []string{"--name", "web", "-f", tmpl, "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	runTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []flagCase[UpdateOptions]{
		{name: "file", args: []string{"web", "-f", "web.tera"}, want: UpdateOptions{Ref: "web", File: "web.tera", Format: output.FormatTable}},
		{name: "schema and description", args: []string{"web", "--schema", "s.json", "--description", "", "-o", "yaml"},
			want: UpdateOptions{Ref: "web", Schema: "s.json", Description: sp(""), Format: output.FormatYAML}},
		{name: "nothing to change", args: []string{"web"}, wantErr: true},
		{name: "missing template", args: []string{"-f", "x"}, wantErr: true},
		{name: "bad format", args: []string{"web", "-f", "x", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdInstantiate(t *testing.T) {
	dir := t.TempDir()
	values := writeFile(t, dir, "values.yaml", "replicas: 2\nimage:\n  name: web\n  tag: \"1.0\"\n")
	list := writeFile(t, dir, "list.yaml", "- a\n")
	runTable(t, NewCmdInstantiate, func(o *InstantiateOptions) { o.Factory = nil }, []flagCase[InstantiateOptions]{
		{name: "no parameters", args: []string{"web", "--stack", "web-prod"},
			want: InstantiateOptions{Ref: "web", Stack: "web-prod", Parameters: map[string]any{}, Format: output.FormatTable}},
		{name: "values file, --set wins and nests", args: []string{"web", "--stack", "s", "--values", values,
			"--set", "replicas=3", "--set", "image.tag=1.4.2", "--set", "debug=true", "--set", `quoted="3"`},
			want: InstantiateOptions{Ref: "web", Stack: "s", ValuesFile: values,
				Set: []string{"replicas=3", "image.tag=1.4.2", "debug=true", `quoted="3"`}, Format: output.FormatTable,
				Parameters: map[string]any{"replicas": 3, "debug": true, "quoted": "3",
					"image": map[string]any{"name": "web", "tag": "1.4.2"}}}},
		{name: "values on stdin", args: []string{"web", "--stack", "s", "--values", "-", "-o", "json"}, stdin: `{"a": [1, "b"]}`,
			want: InstantiateOptions{Ref: "web", Stack: "s", ValuesFile: "-", Format: output.FormatJSON,
				Parameters: map[string]any{"a": []any{1, "b"}}}},
		{name: "no stack", args: []string{"web", "--set", "a=1"}, wantErr: true},
		{name: "missing template", args: []string{"--stack", "s"}, wantErr: true},
		{name: "set without value", args: []string{"web", "--stack", "s", "--set", "replicas"}, wantErr: true},
		{name: "set with empty segment", args: []string{"web", "--stack", "s", "--set", "image..tag=1"}, wantErr: true},
		{name: "values not a mapping", args: []string{"web", "--stack", "s", "--values", list}, wantErr: true},
		{name: "bad format", args: []string{"web", "--stack", "s", "-o", "x"}, wantErr: true},
	})
}
