package verb

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// refCmd is a verb on one resource whose check records what the options held when it ran.
func refCmd(checked *RefOptions) func(*cmdutil.Factory, func(*RefOptions) error) *cobra.Command {
	return func(f *cmdutil.Factory, runF func(*RefOptions) error) *cobra.Command {
		opts := &RefOptions{Factory: f}
		return OneArg(&cobra.Command{Use: "get NAME"}, Arg{What: "thing NAME"}, Setup[RefOptions]{
			Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF,
			Run: func(context.Context, *RefOptions) error { return errors.New("run without a seam") },
			Check: func(*cobra.Command) error {
				*checked = *opts
				if opts.Ref == "bad" {
					return cmdutil.FlagErrorf("bad ref")
				}
				return nil
			}})
	}
}

func TestOneArgFillsOptionsThenChecks(t *testing.T) {
	var checked RefOptions
	cmdtest.RunTable(t, refCmd(&checked), func(o *RefOptions) { o.Factory = nil }, []cmdtest.FlagCase[RefOptions]{
		{Name: "ref and format", Args: []string{"web", "-o", "yaml"}, Want: RefOptions{Ref: "web", Format: output.FormatYAML}},
		{Name: "default format", Args: []string{"web"}, Want: RefOptions{Ref: "web", Format: output.FormatTable}},
		{Name: "check fails", Args: []string{"bad"}, WantErr: true},
		{Name: "no argument", WantErr: true},
		{Name: "two arguments", Args: []string{"a", "b"}, WantErr: true},
	})
	// The format is validated before the argument is stored and the check runs.
	checked = RefOptions{}
	if _, err := cmdtest.Parse(t, refCmd(&checked), false, "", []string{"bad", "-o", "x"}); err == nil || checked.Ref != "" {
		t.Fatalf("bad format: err %v, check saw %+v", err, checked)
	}
	if checked.Ref != "" {
		t.Fatalf("check ran after a bad format: %+v", checked)
	}
}

func TestOneArgParsesIDs(t *testing.T) {
	id := uuid.New()
	newCmd := func(f *cmdutil.Factory, runF func(*IDOptions) error) *cobra.Command {
		opts := &IDOptions{Factory: f}
		return OneArg(&cobra.Command{Use: "get ID"}, Arg{What: "thing ID"},
			Setup[IDOptions]{Opts: opts, Format: &opts.Format, ID: &opts.ID, RunF: runF})
	}
	cmdtest.RunTable(t, newCmd, func(o *IDOptions) { o.Factory = nil }, []cmdtest.FlagCase[IDOptions]{
		{Name: "id", Args: []string{id.String()}, Want: IDOptions{ID: id, Format: output.FormatTable}},
		{Name: "not an id", Args: []string{"web"}, WantErr: true},
	})
}

func TestNoArgRejectsArguments(t *testing.T) {
	newCmd := func(f *cmdutil.Factory, runF func(*FormatOptions) error) *cobra.Command {
		opts := &FormatOptions{Factory: f}
		return NoArg(&cobra.Command{Use: "list"}, Setup[FormatOptions]{Opts: opts, Format: &opts.Format, RunF: runF})
	}
	cmdtest.RunTable(t, newCmd, func(o *FormatOptions) { o.Factory = nil }, []cmdtest.FlagCase[FormatOptions]{
		{Name: "wide", Args: []string{"-o", "wide"}, Want: FormatOptions{Format: output.FormatWide}},
		{Name: "argument", Args: []string{"x"}, WantErr: true},
	})
}

func TestRenameCmd(t *testing.T) {
	sp := func(s string) *string { return &s }
	newCmd := func(f *cmdutil.Factory, runF func(*RenameOptions) error) *cobra.Command {
		return RenameCmd(f, runF, &cobra.Command{Use: "update NAME"}, Arg{What: "thing NAME"}, nil)
	}
	cmdtest.RunTable(t, newCmd, func(o *RenameOptions) { o.Factory = nil }, []cmdtest.FlagCase[RenameOptions]{
		{Name: "name", Args: []string{"web", "--name", "api"}, Want: RenameOptions{Ref: "web", Name: sp("api"), Format: output.FormatTable}},
		{Name: "empty description", Args: []string{"web", "--description", ""}, Want: RenameOptions{Ref: "web", Description: sp(""), Format: output.FormatTable}},
		{Name: "nothing", Args: []string{"web"}, WantErr: true},
	})
	name, desc := "old", sp("old")
	(&RenameOptions{Name: sp("new")}).Apply(&name, &desc)
	if name != "new" || *desc != "old" {
		t.Fatalf("Apply name: %q %q", name, *desc)
	}
	(&RenameOptions{Description: sp("")}).Apply(&name, &desc)
	if name != "new" || *desc != "" {
		t.Fatalf("Apply description: %q %q", name, *desc)
	}
}

func TestViaStopsAtTheFirstError(t *testing.T) {
	errFind := errors.New("not found")
	called := false
	_, err := Via(func(context.Context, *client.Client, string) (int, error) { return 0, errFind }, "x",
		func(context.Context, *client.Client, int) (string, error) { called = true; return "", nil })(context.Background(), nil)
	if !errors.Is(err, errFind) || called {
		t.Fatalf("err %v, call made %v", err, called)
	}
	got, err := Then(func(_ context.Context, _ *client.Client, ref string) (int, error) { return len(ref), nil },
		func(_ context.Context, _ *client.Client, n int) ([]int, error) { return []int{n}, nil })(context.Background(), nil, "abc")
	if err != nil || !reflect.DeepEqual(got, []int{3}) {
		t.Fatalf("Then: %v %v", got, err)
	}
}
