package agent

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

// usageErrors runs a command without a runF seam and expects every argv to fail with a
// usage error before the command reaches the broker.
func usageErrors(t *testing.T, newCmd func(f *cmdutil.Factory) *cobra.Command, argvs ...[]string) {
	t.Helper()
	for _, args := range argvs {
		wantFlagError(t, args, execute(newCmd(testFactory(false, "")), args))
	}
}

func sp(s string) *string { return &s }

func TestNewCmdList(t *testing.T) {
	runTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []flagCase[ListOptions]{
		{name: "defaults", want: ListOptions{Interval: 2 * time.Second, Format: output.FormatTable}},
		{name: "generator and format", args: []string{"--generator", "ci", "-o", "wide"},
			want: ListOptions{Generator: "ci", Interval: 2 * time.Second, Format: output.FormatWide}},
		{name: "watch", args: []string{"-w", "--interval", "500ms", "-o", "json"},
			want: ListOptions{Watch: true, Interval: 500 * time.Millisecond, Format: output.FormatJSON}},
		{name: "tiny interval", args: []string{"--watch", "--interval", "10ms"}, wantErr: true},
		{name: "bad interval", args: []string{"--interval", "soon"}, wantErr: true},
		{name: "bad format", args: []string{"-o", "xml"}, wantErr: true},
		{name: "extra argument", args: []string{"edge"}, wantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	runTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []flagCase[GetOptions]{
		{name: "name/cluster", args: []string{"edge-1/prod", "-o", "yaml"}, want: GetOptions{Ref: "edge-1/prod", Format: output.FormatYAML}},
		{name: "missing ref", wantErr: true},
		{name: "two refs", args: []string{"a", "b"}, wantErr: true},
		{name: "bad format", args: []string{"a", "-o", "csv"}, wantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	runTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []flagCase[CreateOptions]{
		{name: "repeatable generator", args: []string{"--name", "edge-1", "--cluster", "prod", "--generator", "ci", "--generator", "cd", "-o", "json"},
			want: CreateOptions{Name: "edge-1", Cluster: "prod", Generators: []string{"ci", "cd"}, Format: output.FormatJSON}},
		{name: "minimal", args: []string{"--name", "a", "--cluster", "b"}, want: CreateOptions{Name: "a", Cluster: "b", Format: output.FormatTable}},
		{name: "no name", args: []string{"--cluster", "prod"}, wantErr: true},
		{name: "no cluster", args: []string{"--name", "edge-1"}, wantErr: true},
		{name: "positional", args: []string{"edge-1", "--name", "a", "--cluster", "b"}, wantErr: true},
		{name: "bad format", args: []string{"--name", "a", "--cluster", "b", "-o", "table2"}, wantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	runTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []flagCase[UpdateOptions]{
		{name: "status upper-cased", args: []string{"edge-1/prod", "--status", "active"},
			want: UpdateOptions{Ref: "edge-1/prod", Request: client.UpdateAgentRequest{Status: sp("ACTIVE")}, Format: output.FormatTable}},
		{name: "name and cluster", args: []string{"x", "--name", "n", "--cluster", "c", "-o", "name"},
			want: UpdateOptions{Ref: "x", Request: client.UpdateAgentRequest{Name: sp("n"), ClusterName: sp("c")}, Format: output.FormatName}},
		{name: "empty name is a change", args: []string{"x", "--name", ""},
			want: UpdateOptions{Ref: "x", Request: client.UpdateAgentRequest{Name: sp("")}, Format: output.FormatTable}},
		{name: "nothing to change", args: []string{"x"}, wantErr: true},
		{name: "missing agent", args: []string{"--name", "n"}, wantErr: true},
		{name: "bad format", args: []string{"x", "--name", "n", "-o", "toml"}, wantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	runTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []flagCase[DeleteOptions]{
		{name: "yes", args: []string{"edge-1/prod", "--yes"}, want: DeleteOptions{Ref: "edge-1/prod", Yes: true}},
		{name: "short yes", args: []string{"a", "-y"}, want: DeleteOptions{Ref: "a", Yes: true}},
		{name: "tty asks later", tty: true, args: []string{"a"}, want: DeleteOptions{Ref: "a"}},
		{name: "no tty needs yes", args: []string{"a"}, wantErr: true},
		{name: "missing agent", args: []string{"--yes"}, wantErr: true},
	})
}

func TestNewCmdRotatePAK(t *testing.T) {
	runTable(t, NewCmdRotatePAK, func(o *RotateOptions) { o.Factory = nil }, []flagCase[RotateOptions]{
		{name: "json", args: []string{"edge-1/prod", "-o", "json"}, want: RotateOptions{Ref: "edge-1/prod", Format: output.FormatJSON}},
		{name: "missing agent", wantErr: true},
		{name: "bad format", args: []string{"a", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdTargetState(t *testing.T) {
	runTable(t, NewCmdTargetState, func(o *TargetStateOptions) { o.Factory = nil }, []flagCase[TargetStateOptions]{
		{name: "defaults", args: []string{"a"}, want: TargetStateOptions{Ref: "a", Format: output.FormatTable}},
		{name: "full yaml", args: []string{"a", "--full", "-o", "yaml"}, want: TargetStateOptions{Ref: "a", Full: true, Format: output.FormatYAML}},
		{name: "missing agent", args: []string{"--full"}, wantErr: true},
		{name: "bad format", args: []string{"a", "-o", "x"}, wantErr: true},
	})
}

// The verbs without a runF seam must reject bad usage before they build a client.
func TestAgentVerbsUsageErrors(t *testing.T) {
	status := func(s string) func(*cmdutil.Factory) *cobra.Command {
		return func(f *cmdutil.Factory) *cobra.Command { return NewCmdStatus(f, s) }
	}
	for name, tc := range map[string]struct {
		newCmd func(*cmdutil.Factory) *cobra.Command
		argvs  [][]string
	}{
		"activate":      {status(StatusActive), [][]string{{}, {"a", "b"}, {"a", "-o", "x"}}},
		"deactivate":    {status(StatusInactive), [][]string{{}, {"a", "-o", "x"}}},
		"registrations": {NewCmdRegistrations, [][]string{{}, {"a", "-o", "x"}}},
		"events":        {NewCmdEvents, [][]string{{}, {"a", "b"}, {"a", "-o", "x"}}},
		"stacks":        {NewCmdStacks, [][]string{{}, {"a", "-o", "x"}}},
		"fleet-status":  {NewCmdFleetStatus, [][]string{{}, {"a", "-o", "x"}}},
		"target add":    {func(f *cmdutil.Factory) *cobra.Command { return newCmdTargetChange(f, true) }, [][]string{{"a"}, {"--stack", "web"}}},
		"target remove": {func(f *cmdutil.Factory) *cobra.Command { return newCmdTargetChange(f, false) }, [][]string{{"a"}, {"a", "b", "--stack", "web"}}},
	} {
		t.Run(name, func(t *testing.T) { usageErrors(t, tc.newCmd, tc.argvs...) })
	}
}

func TestNewCmdAgentTree(t *testing.T) {
	root := NewCmdAgent(testFactory(false, ""))
	for _, path := range [][]string{{"list"}, {"activate"}, {"deactivate"}, {"target", "add"}, {"target", "remove"}, {"target", "list"}, {"label"}, {"annotation"}} {
		c, _, err := root.Find(path)
		if err != nil || c == root {
			t.Errorf("agent %v: not found (%v)", path, err)
		}
	}
}
