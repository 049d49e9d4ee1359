package generator

import (
	"errors"
	"io"
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
		{name: "wide", args: []string{"-o", "wide"}, want: ListOptions{Format: output.FormatWide}},
		{name: "bad format", args: []string{"-o", "xml"}, wantErr: true},
		{name: "extra argument", args: []string{"ci"}, wantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	runTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []flagCase[GetOptions]{
		{name: "name", args: []string{"ci", "-o", "yaml"}, want: GetOptions{Ref: "ci", Format: output.FormatYAML}},
		{name: "missing", wantErr: true},
		{name: "bad format", args: []string{"ci", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	runTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []flagCase[CreateOptions]{
		{name: "name only", args: []string{"--name", "ci"},
			want: CreateOptions{Name: "ci", Format: output.FormatTable, Request: client.CreateGeneratorRequest{Name: "ci"}}},
		{name: "description", args: []string{"--name", "ci", "--description", "pipeline", "-o", "json"},
			want: CreateOptions{Name: "ci", Description: "pipeline", Format: output.FormatJSON,
				Request: client.CreateGeneratorRequest{Name: "ci", Description: sp("pipeline")}}},
		{name: "empty description is sent", args: []string{"--name", "ci", "--description", ""},
			want: CreateOptions{Name: "ci", Format: output.FormatTable, Request: client.CreateGeneratorRequest{Name: "ci", Description: sp("")}}},
		{name: "no name", args: []string{"--description", "x"}, wantErr: true},
		{name: "positional", args: []string{"ci"}, wantErr: true},
		{name: "bad format", args: []string{"--name", "ci", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	runTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []flagCase[UpdateOptions]{
		{name: "rename", args: []string{"ci", "--name", "cd"}, want: UpdateOptions{Ref: "ci", Name: sp("cd"), Format: output.FormatTable}},
		{name: "description", args: []string{"ci", "--description", "d", "-o", "name"},
			want: UpdateOptions{Ref: "ci", Description: sp("d"), Format: output.FormatName}},
		{name: "nothing to change", args: []string{"ci"}, wantErr: true},
		{name: "missing generator", args: []string{"--name", "x"}, wantErr: true},
		{name: "bad format", args: []string{"ci", "--name", "x", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	runTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []flagCase[DeleteOptions]{
		{name: "yes", args: []string{"ci", "-y"}, want: DeleteOptions{Ref: "ci", Yes: true}},
		{name: "tty asks later", tty: true, args: []string{"ci"}, want: DeleteOptions{Ref: "ci"}},
		{name: "no tty needs yes", args: []string{"ci"}, wantErr: true},
		{name: "missing generator", args: []string{"--yes"}, wantErr: true},
	})
}

func TestNewCmdRotatePAK(t *testing.T) {
	runTable(t, NewCmdRotatePAK, func(o *RotateOptions) { o.Factory = nil }, []flagCase[RotateOptions]{
		{name: "json", args: []string{"ci", "-o", "json"}, want: RotateOptions{Ref: "ci", Format: output.FormatJSON}},
		{name: "missing generator", wantErr: true},
		{name: "bad format", args: []string{"ci", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdRegister(t *testing.T) {
	for _, register := range []bool{true, false} {
		newCmd := func(f *cmdutil.Factory, runF func(*RegisterOptions) error) *cobra.Command {
			return NewCmdRegister(f, runF, register)
		}
		runTable(t, newCmd, func(o *RegisterOptions) { o.Factory = nil }, []flagCase[RegisterOptions]{
			{name: "agent", args: []string{"ci", "--agent", "edge-1/prod"},
				want: RegisterOptions{Ref: "ci", Agent: "edge-1/prod", Register: register, Format: output.FormatTable}},
			{name: "agent PAK registers itself", args: []string{"ci", "-o", "json"},
				want: RegisterOptions{Ref: "ci", Register: register, Format: output.FormatJSON}},
			{name: "missing generator", args: []string{"--agent", "a"}, wantErr: true},
			{name: "bad format", args: []string{"ci", "-o", "x"}, wantErr: true},
		})
	}
}

func TestNewCmdRegisteredAgents(t *testing.T) {
	runTable(t, NewCmdRegisteredAgents, func(o *RegisteredOptions) { o.Factory = nil }, []flagCase[RegisteredOptions]{
		{name: "wide", args: []string{"ci", "-o", "wide"}, want: RegisteredOptions{Ref: "ci", Format: output.FormatWide}},
		{name: "missing generator", wantErr: true},
		{name: "bad format", args: []string{"ci", "-o", "x"}, wantErr: true},
	})
}
