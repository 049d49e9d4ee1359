package stack

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
		{name: "generator", args: []string{"--generator", "ci", "-o", "name"}, want: ListOptions{Generator: "ci", Interval: 2 * time.Second, Format: output.FormatName}},
		{name: "watch", args: []string{"--watch", "--interval", "1s"}, want: ListOptions{Watch: true, Interval: time.Second, Format: output.FormatTable}},
		{name: "tiny interval", args: []string{"-w", "--interval", "99ms"}, wantErr: true},
		{name: "bad format", args: []string{"-o", "xml"}, wantErr: true},
		{name: "extra argument", args: []string{"web"}, wantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	runTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []flagCase[GetOptions]{
		{name: "name", args: []string{"web", "-o", "json"}, want: GetOptions{Ref: "web", Format: output.FormatJSON}},
		{name: "missing", wantErr: true},
		{name: "bad format", args: []string{"web", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	runTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []flagCase[CreateOptions]{
		{name: "all flags", args: []string{"--name", "web", "--generator", "ci", "--description", "d", "-o", "yaml"},
			want: CreateOptions{Name: "web", Generator: "ci", Description: "d", Format: output.FormatYAML}},
		{name: "no name", args: []string{"--generator", "ci"}, wantErr: true},
		{name: "positional", args: []string{"web"}, wantErr: true},
		{name: "bad format", args: []string{"--name", "web", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	runTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []flagCase[UpdateOptions]{
		{name: "rename", args: []string{"web", "--name", "api"}, want: UpdateOptions{Ref: "web", Name: sp("api"), Format: output.FormatTable}},
		{name: "description", args: []string{"web", "--description", ""}, want: UpdateOptions{Ref: "web", Description: sp(""), Format: output.FormatTable}},
		{name: "nothing to change", args: []string{"web"}, wantErr: true},
		{name: "missing stack", args: []string{"--name", "x"}, wantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	runTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []flagCase[DeleteOptions]{
		{name: "yes", args: []string{"web", "--yes"}, want: DeleteOptions{Ref: "web", Yes: true}},
		{name: "tty asks later", tty: true, args: []string{"web"}, want: DeleteOptions{Ref: "web"}},
		{name: "no tty needs yes", args: []string{"web"}, wantErr: true},
		{name: "missing stack", args: []string{"-y"}, wantErr: true},
	})
}

func TestNewCmdWait(t *testing.T) {
	runTable(t, NewCmdWait, func(o *WaitOptions) { o.Factory = nil }, []flagCase[WaitOptions]{
		{name: "defaults", args: []string{"web"}, want: WaitOptions{Ref: "web", For: ForApplied, Timeout: 5 * time.Minute, Interval: 2 * time.Second}},
		{name: "healthy for one agent", args: []string{"web", "--for", "Healthy", "--agent", "edge-1/prod", "--timeout", "10m", "--interval", "50ms"},
			want: WaitOptions{Ref: "web", For: ForHealthy, Agent: "edge-1/prod", Timeout: 10 * time.Minute, Interval: 50 * time.Millisecond}},
		{name: "bad condition", args: []string{"web", "--for", "ready"}, wantErr: true},
		{name: "zero timeout", args: []string{"web", "--timeout", "0s"}, wantErr: true},
		{name: "tiny interval", args: []string{"web", "--interval", "10ms"}, wantErr: true},
		{name: "bad duration", args: []string{"web", "--timeout", "ten"}, wantErr: true},
		{name: "missing stack", wantErr: true},
	})
}

func TestNewCmdObjects(t *testing.T) {
	runTable(t, NewCmdObjects, func(o *ObjectsOptions) { o.Factory = nil }, []flagCase[ObjectsOptions]{
		{name: "wide", args: []string{"web", "-o", "wide"}, want: ObjectsOptions{Ref: "web", Format: output.FormatWide}},
		{name: "missing stack", wantErr: true},
		{name: "bad format", args: []string{"web", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdDiff(t *testing.T) {
	a, b := "9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d", "1f3a8c2d-0b6d-4f3c-8a55-1d2f3a4b5c6d"
	runTable(t, NewCmdDiff, func(o *DiffOptions) { o.Factory = nil }, []flagCase[DiffOptions]{
		{name: "stack", args: []string{"web"}, want: DiffOptions{Args: []string{"web"}}},
		{name: "two objects", args: []string{a, b, "--exit-code"}, want: DiffOptions{Args: []string{a, b}, ExitCode: true}},
		{name: "stack with files", args: []string{"web", "-f", "./m"}, want: DiffOptions{Args: []string{"web"}, File: "./m"}},
		{name: "no arguments", wantErr: true},
		{name: "three arguments", args: []string{a, b, a}, wantErr: true},
		{name: "files with two objects", args: []string{a, b, "-f", "-"}, wantErr: true},
	})
}

func TestNewCmdRollback(t *testing.T) {
	runTable(t, NewCmdRollback, func(o *RollbackOptions) { o.Factory = nil }, []flagCase[RollbackOptions]{
		{name: "sequence", args: []string{"web", "--to", "3"}, want: RollbackOptions{Ref: "web", To: "3", Format: output.FormatTable}},
		{name: "no target", args: []string{"web"}, wantErr: true},
		{name: "missing stack", args: []string{"--to", "3"}, wantErr: true},
		{name: "bad format", args: []string{"web", "--to", "3", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdHealth(t *testing.T) {
	runTable(t, NewCmdHealth, func(o *HealthOptions) { o.Factory = nil }, []flagCase[HealthOptions]{
		{name: "json", args: []string{"web", "-o", "json"}, want: HealthOptions{Ref: "web", Format: output.FormatJSON}},
		{name: "missing stack", wantErr: true},
		{name: "bad format", args: []string{"web", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdTelemetry(t *testing.T) {
	for _, kind := range []telemetryKind{telemetryEvents, telemetryLogs} {
		logs := kind == telemetryLogs
		newCmd := func(f *cmdutil.Factory, runF func(*TelemetryOptions) error) *cobra.Command {
			return NewCmdTelemetry(f, runF, kind)
		}
		runTable(t, newCmd, func(o *TelemetryOptions) { o.Factory = nil }, []flagCase[TelemetryOptions]{
			{name: "defaults", args: []string{"web"}, want: TelemetryOptions{Ref: "web", Logs: logs, Format: output.FormatTable}},
			{name: "since duration", args: []string{"web", "--since", "15m", "--limit", "20", "--follow", "-o", "json"},
				want: TelemetryOptions{Ref: "web", Logs: logs, Since: testNow.Add(-15 * time.Minute), Limit: 20, Follow: true, Format: output.FormatJSON}},
			{name: "since time", args: []string{"web", "--since", "2026-01-02T10:00:00Z"},
				want: TelemetryOptions{Ref: "web", Logs: logs, Since: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), Format: output.FormatTable}},
			{name: "bad since", args: []string{"web", "--since", "yesterday"}, wantErr: true},
			{name: "limit too big", args: []string{"web", "--limit", "5001"}, wantErr: true},
			{name: "negative limit", args: []string{"web", "--limit", "-1"}, wantErr: true},
			{name: "missing stack", wantErr: true},
			{name: "bad format", args: []string{"web", "-o", "x"}, wantErr: true},
		})
	}
	// Only logs has -f as the short form of --follow.
	got, err := parse(t, func(f *cmdutil.Factory, runF func(*TelemetryOptions) error) *cobra.Command {
		return NewCmdTelemetry(f, runF, telemetryLogs)
	}, false, "", []string{"web", "-f"})
	if err != nil || !got.Follow {
		t.Fatalf("logs -f: %+v %v", got, err)
	}
	_, err = parse(t, func(f *cmdutil.Factory, runF func(*TelemetryOptions) error) *cobra.Command {
		return NewCmdTelemetry(f, runF, telemetryEvents)
	}, false, "", []string{"web", "-f"})
	wantFlagError(t, []string{"events", "-f"}, err)
}

func TestStackMetaVerbsUsageErrors(t *testing.T) {
	root := NewCmdStack(testFactory(false, ""))
	for _, path := range []string{"label", "annotation"} {
		c, _, err := root.Find([]string{path})
		if err != nil || c == root {
			t.Fatalf("stack %s: not found (%v)", path, err)
		}
	}
	usageErrors(t, func(f *cmdutil.Factory) *cobra.Command { return NewCmdStack(f) },
		[]string{"apply", "--stack", "web"}, []string{"wait", "web", "--for", "x"})
}
