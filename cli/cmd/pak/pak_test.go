package pak

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

func TestNewCmdList(t *testing.T) {
	runTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []flagCase[ListOptions]{
		{name: "defaults", want: ListOptions{Format: output.FormatTable}},
		{name: "json", args: []string{"-o", "json"}, want: ListOptions{Format: output.FormatJSON}},
		{name: "bad format", args: []string{"-o", "csv"}, wantErr: true},
		{name: "extra argument", args: []string{"ci"}, wantErr: true},
	})
}
