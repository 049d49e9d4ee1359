package audit

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/google/uuid"

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

func TestNewCmdList(t *testing.T) {
	actor := uuid.MustParse("5b0e6f9e-8a0c-4d52-a1f4-3a1c2b7d9e10")
	res := uuid.MustParse("9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d")
	at := time.Date(2026, 1, 1, 8, 30, 0, 0, time.UTC)
	runTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []flagCase[ListOptions]{
		{name: "defaults", want: ListOptions{Format: output.FormatTable}},
		{name: "every filter", args: []string{"--actor-type", "generator", "--actor-id", actor.String(), "--action", "stack.*",
			"--resource-type", "agent", "--resource-id", res.String(), "--limit", "20", "--offset", "40", "-o", "wide"},
			want: ListOptions{Format: output.FormatWide, Query: client.AuditLogOptions{ActorType: "generator", ActorID: &actor, Action: "stack.*",
				ResourceType: "agent", ResourceID: &res, Limit: 20, Offset: 40}}},
		{name: "since duration, until time", args: []string{"--since", "24h", "--until", "2026-01-01T08:30:00Z"},
			want: ListOptions{Format: output.FormatTable, Query: client.AuditLogOptions{From: testNow.Add(-24 * time.Hour), To: at}}},
		{name: "aliases from/to", args: []string{"--from", "2026-01-01T08:30:00Z", "--to", "30m"},
			want: ListOptions{Format: output.FormatTable, Query: client.AuditLogOptions{From: at, To: testNow.Add(-30 * time.Minute)}}},
		{name: "negative duration counts back", args: []string{"--since", "-1h"},
			want: ListOptions{Format: output.FormatTable, Query: client.AuditLogOptions{From: testNow.Add(-time.Hour)}}},
		{name: "bad since", args: []string{"--since", "yesterday"}, wantErr: true},
		{name: "bad until", args: []string{"--until", "2026-13-01"}, wantErr: true},
		{name: "bad actor id", args: []string{"--actor-id", "admin"}, wantErr: true},
		{name: "bad resource id", args: []string{"--resource-id", "x"}, wantErr: true},
		{name: "limit too big", args: []string{"--limit", "1001"}, wantErr: true},
		{name: "negative offset", args: []string{"--offset", "-1"}, wantErr: true},
		{name: "bad format", args: []string{"-o", "csv"}, wantErr: true},
		{name: "extra argument", args: []string{"x"}, wantErr: true},
	})
}
