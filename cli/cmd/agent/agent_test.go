package agent

import (
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

func sp(s string) *string { return &s }

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Interval: 2 * time.Second, Format: output.FormatTable}},
		{Name: "generator and format", Args: []string{"--generator", "ci", "-o", "wide"},
			Want: ListOptions{Generator: "ci", Interval: 2 * time.Second, Format: output.FormatWide}},
		{Name: "watch", Args: []string{"-w", "--interval", "500ms", "-o", "json"},
			Want: ListOptions{Watch: true, Interval: 500 * time.Millisecond, Format: output.FormatJSON}},
		{Name: "tiny interval", Args: []string{"--watch", "--interval", "10ms"}, WantErr: true},
		{Name: "bad interval", Args: []string{"--interval", "soon"}, WantErr: true},
		{Name: "bad format", Args: []string{"-o", "xml"}, WantErr: true},
		{Name: "extra argument", Args: []string{"edge"}, WantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "name/cluster", Args: []string{"edge-1/prod", "-o", "yaml"}, Want: GetOptions{Ref: "edge-1/prod", Format: output.FormatYAML}},
		{Name: "missing ref", WantErr: true},
		{Name: "two refs", Args: []string{"a", "b"}, WantErr: true},
		{Name: "bad format", Args: []string{"a", "-o", "csv"}, WantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []cmdtest.FlagCase[CreateOptions]{
		{Name: "repeatable generator", Args: []string{"--name", "edge-1", "--cluster", "prod", "--generator", "ci", "--generator", "cd", "-o", "json"},
			Want: CreateOptions{Name: "edge-1", Cluster: "prod", Generators: []string{"ci", "cd"}, Format: output.FormatJSON}},
		{Name: "minimal", Args: []string{"--name", "a", "--cluster", "b"}, Want: CreateOptions{Name: "a", Cluster: "b", Format: output.FormatTable}},
		{Name: "no name", Args: []string{"--cluster", "prod"}, WantErr: true},
		{Name: "no cluster", Args: []string{"--name", "edge-1"}, WantErr: true},
		{Name: "name as argument", Args: []string{"edge-1", "--cluster", "eu-west"},
			Want: CreateOptions{Name: "edge-1", Cluster: "eu-west", Format: output.FormatTable}},
		{Name: "argument after flags", Args: []string{"--cluster", "eu-west", "edge-1", "--name", "edge-1"},
			Want: CreateOptions{Name: "edge-1", Cluster: "eu-west", Format: output.FormatTable}},
		{Name: "argument and another --name", Args: []string{"edge-1", "--name", "a", "--cluster", "b"}, WantErr: true},
		{Name: "argument without cluster", Args: []string{"edge-1"}, WantErr: true},
		{Name: "two arguments", Args: []string{"edge-1", "edge-2", "--cluster", "b"}, WantErr: true},
		{Name: "bad format", Args: []string{"--name", "a", "--cluster", "b", "-o", "table2"}, WantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []cmdtest.FlagCase[UpdateOptions]{
		{Name: "status upper-cased", Args: []string{"edge-1/prod", "--status", "active"},
			Want: UpdateOptions{Ref: "edge-1/prod", Request: client.UpdateAgentRequest{Status: sp("ACTIVE")}, Format: output.FormatTable}},
		{Name: "name and cluster", Args: []string{"x", "--name", "n", "--cluster", "c", "-o", "name"},
			Want: UpdateOptions{Ref: "x", Request: client.UpdateAgentRequest{Name: sp("n"), ClusterName: sp("c")}, Format: output.FormatName}},
		{Name: "empty name is a change", Args: []string{"x", "--name", ""},
			Want: UpdateOptions{Ref: "x", Request: client.UpdateAgentRequest{Name: sp("")}, Format: output.FormatTable}},
		{Name: "nothing to change", Args: []string{"x"}, WantErr: true},
		{Name: "missing agent", Args: []string{"--name", "n"}, WantErr: true},
		{Name: "bad format", Args: []string{"x", "--name", "n", "-o", "toml"}, WantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	cmdtest.RunTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeleteOptions]{
		{Name: "yes", Args: []string{"edge-1/prod", "--yes"}, Want: DeleteOptions{Ref: "edge-1/prod", Yes: true}},
		{Name: "short yes", Args: []string{"a", "-y"}, Want: DeleteOptions{Ref: "a", Yes: true}},
		{Name: "tty asks later", TTY: true, Args: []string{"a"}, Want: DeleteOptions{Ref: "a"}},
		{Name: "no tty needs yes", Args: []string{"a"}, WantErr: true},
		{Name: "missing agent", Args: []string{"--yes"}, WantErr: true},
	})
}

func TestNewCmdRotatePAK(t *testing.T) {
	cmdtest.RunTable(t, NewCmdRotatePAK, func(o *RotateOptions) { o.Factory = nil }, []cmdtest.FlagCase[RotateOptions]{
		{Name: "json", Args: []string{"edge-1/prod", "-o", "json"}, Want: RotateOptions{Ref: "edge-1/prod", Format: output.FormatJSON}},
		{Name: "missing agent", WantErr: true},
		{Name: "bad format", Args: []string{"a", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdTargetState(t *testing.T) {
	cmdtest.RunTable(t, NewCmdTargetState, func(o *TargetStateOptions) { o.Factory = nil }, []cmdtest.FlagCase[TargetStateOptions]{
		{Name: "defaults", Args: []string{"a"}, Want: TargetStateOptions{Ref: "a", Format: output.FormatTable}},
		{Name: "full yaml", Args: []string{"a", "--full", "-o", "yaml"}, Want: TargetStateOptions{Ref: "a", Full: true, Format: output.FormatYAML}},
		{Name: "missing agent", Args: []string{"--full"}, WantErr: true},
		{Name: "bad format", Args: []string{"a", "-o", "x"}, WantErr: true},
	})
}

// The verbs without a runF seam must reject bad usage before they build a client.
func TestAgentVerbsUsageErrors(t *testing.T) {
	status := func(s string) func(*cmdutil.Factory) *cobra.Command {
		return func(f *cmdutil.Factory) *cobra.Command { return NewCmdStatus(f, nil, s) }
	}
	items := func(newCmd func(*cmdutil.Factory, func(*ItemsOptions) error) *cobra.Command) func(*cmdutil.Factory) *cobra.Command {
		return func(f *cmdutil.Factory) *cobra.Command { return newCmd(f, nil) }
	}
	for name, tc := range map[string]struct {
		newCmd func(*cmdutil.Factory) *cobra.Command
		argvs  [][]string
	}{
		"activate":      {status(StatusActive), [][]string{{}, {"a", "b"}, {"a", "-o", "x"}}},
		"deactivate":    {status(StatusInactive), [][]string{{}, {"a", "-o", "x"}}},
		"registrations": {items(NewCmdRegistrations), [][]string{{}, {"a", "-o", "x"}}},
		"events":        {items(NewCmdEvents), [][]string{{}, {"a", "b"}, {"a", "-o", "x"}}},
		"stacks":        {items(NewCmdStacks), [][]string{{}, {"a", "-o", "x"}}},
		"fleet-status":  {func(f *cmdutil.Factory) *cobra.Command { return NewCmdFleetStatus(f, nil) }, [][]string{{}, {"a", "-o", "x"}}},
		"target add":    {func(f *cmdutil.Factory) *cobra.Command { return NewCmdTargetChange(f, nil, true) }, [][]string{{"a"}, {"--stack", "web"}}},
		"target remove": {func(f *cmdutil.Factory) *cobra.Command { return NewCmdTargetChange(f, nil, false) }, [][]string{{"a"}, {"a", "b", "--stack", "web"}}},
	} {
		t.Run(name, func(t *testing.T) { cmdtest.WantUsageErrors(t, tc.newCmd, tc.argvs...) })
	}
}

func TestNewCmdAgentTree(t *testing.T) {
	root := NewCmdAgent(cmdtest.Factory(false, ""))
	for _, path := range [][]string{{"list"}, {"activate"}, {"deactivate"}, {"target", "add"}, {"target", "remove"}, {"target", "list"}, {"label"}, {"annotation"}} {
		c, _, err := root.Find(path)
		if err != nil || c == root {
			t.Errorf("agent %v: not found (%v)", path, err)
		}
	}
}
