// Package cmdtest holds the helpers of brokkrctl's flag-parsing tests: build a command with a
// test Factory and a capturing run function, run it with arguments, and compare the options it
// received (the runF seam of NewCmdX(f, runF)).
package cmdtest

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
)

// Now is the fixed clock of parsing tests.
var Now = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// Factory returns a test Factory whose streams are buffers (stdin holds stdin) and whose
// clock is Now.
func Factory(tty bool, stdin string) *cmdutil.Factory {
	ios, in, _, _ := iostreams.Test()
	in.WriteString(stdin)
	ios.SetStdinTTY(tty)
	ios.SetStdoutTTY(tty)
	f := cmdutil.NewFactory("test", ios)
	f.Now = func() time.Time { return Now }
	return f
}

// Execute runs cmd with args the way the root command would, mapping flag errors to usage
// errors.
func Execute(cmd *cobra.Command, args []string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	_, err := cmd.ExecuteC()
	return err
}

// Parse builds a command with newCmd and a capturing runF, runs it with args, and returns the
// options runF received (nil when the command failed before reaching it).
func Parse[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, tty bool, stdin string, args []string) (*O, error) {
	t.Helper()
	var got *O
	cmd := newCmd(Factory(tty, stdin), func(o *O) error { got = o; return nil })
	return got, Execute(cmd, args)
}

// FlagCase is one row of a parsing table: Args either parse into Want or fail with a usage
// error.
type FlagCase[O any] struct {
	Name    string
	Args    []string
	TTY     bool
	Stdin   string
	Want    O
	WantErr bool
}

// RunTable runs every case against newCmd; clear drops the fields that are not compared
// (the Factory).
func RunTable[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, clear func(*O), tests []FlagCase[O]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := Parse(t, newCmd, tt.TTY, tt.Stdin, tt.Args)
			if tt.WantErr {
				WantFlagError(t, tt.Args, err)
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", tt.Args, err)
			}
			clear(got)
			if !reflect.DeepEqual(*got, tt.Want) {
				t.Fatalf("%q:\n got %+v\nwant %+v", tt.Args, *got, tt.Want)
			}
		})
	}
}

// WantFlagError fails the test unless err is a usage error (exit code 2).
func WantFlagError(t *testing.T, args []string, err error) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
		t.Fatalf("%q: want a flag error, got %v", args, err)
	}
}

// WantUsageErrors builds a command with newCmd for every argv and expects each run to fail
// with a usage error before the command reaches the broker (it has no broker to reach).
func WantUsageErrors(t *testing.T, newCmd func(f *cmdutil.Factory) *cobra.Command, argvs ...[]string) {
	t.Helper()
	for _, args := range argvs {
		WantFlagError(t, args, Execute(newCmd(Factory(false, "")), args))
	}
}
