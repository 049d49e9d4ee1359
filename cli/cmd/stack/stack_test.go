package stack

import (
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
)

func sp(s string) *string { return &s }

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Interval: 2 * time.Second, Format: output.FormatTable}},
		{Name: "generator", Args: []string{"--generator", "ci", "-o", "name"}, Want: ListOptions{Generator: "ci", Interval: 2 * time.Second, Format: output.FormatName}},
		{Name: "watch", Args: []string{"--watch", "--interval", "1s"}, Want: ListOptions{Watch: true, Interval: time.Second, Format: output.FormatTable}},
		{Name: "tiny interval", Args: []string{"-w", "--interval", "99ms"}, WantErr: true},
		{Name: "bad format", Args: []string{"-o", "xml"}, WantErr: true},
		{Name: "extra argument", Args: []string{"web"}, WantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "name", Args: []string{"web", "-o", "json"}, Want: GetOptions{Ref: "web", Format: output.FormatJSON}},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []cmdtest.FlagCase[CreateOptions]{
		{Name: "all flags", Args: []string{"--name", "web", "--generator", "ci", "--description", "d", "-o", "yaml"},
			Want: CreateOptions{Name: "web", Generator: "ci", Description: "d", HasDescription: true, Format: output.FormatYAML}},
		{Name: "no name", Args: []string{"--generator", "ci"}, WantErr: true},
		{Name: "name as argument", Args: []string{"web"}, Want: CreateOptions{Name: "web", Format: output.FormatTable}},
		{Name: "argument with flags", Args: []string{"web", "--generator", "ci", "--name", "web"},
			Want: CreateOptions{Name: "web", Generator: "ci", Format: output.FormatTable}},
		{Name: "argument and another --name", Args: []string{"web", "--name", "api"}, WantErr: true},
		{Name: "two arguments", Args: []string{"web", "api"}, WantErr: true},
		{Name: "bad format", Args: []string{"--name", "web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []cmdtest.FlagCase[UpdateOptions]{
		{Name: "rename", Args: []string{"web", "--name", "api"}, Want: UpdateOptions{Ref: "web", Name: sp("api"), Format: output.FormatTable}},
		{Name: "description", Args: []string{"web", "--description", ""}, Want: UpdateOptions{Ref: "web", Description: sp(""), Format: output.FormatTable}},
		{Name: "nothing to change", Args: []string{"web"}, WantErr: true},
		{Name: "missing stack", Args: []string{"--name", "x"}, WantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	cmdtest.RunTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeleteOptions]{
		{Name: "yes", Args: []string{"web", "--yes"}, Want: DeleteOptions{Ref: "web", Yes: true}},
		{Name: "tty asks later", TTY: true, Args: []string{"web"}, Want: DeleteOptions{Ref: "web"}},
		{Name: "no tty needs yes", Args: []string{"web"}, WantErr: true},
		{Name: "missing stack", Args: []string{"-y"}, WantErr: true},
	})
}

func TestNewCmdWait(t *testing.T) {
	cmdtest.RunTable(t, NewCmdWait, func(o *WaitOptions) { o.Factory = nil }, []cmdtest.FlagCase[WaitOptions]{
		{Name: "defaults", Args: []string{"web"}, Want: WaitOptions{Ref: "web", For: ForApplied, Timeout: 5 * time.Minute, Interval: 2 * time.Second}},
		{Name: "healthy for one agent", Args: []string{"web", "--for", "Healthy", "--agent", "edge-1/prod", "--timeout", "10m", "--interval", "50ms"},
			Want: WaitOptions{Ref: "web", For: ForHealthy, Agent: "edge-1/prod", Timeout: 10 * time.Minute, Interval: 50 * time.Millisecond}},
		{Name: "bad condition", Args: []string{"web", "--for", "ready"}, WantErr: true},
		{Name: "zero timeout", Args: []string{"web", "--timeout", "0s"}, WantErr: true},
		{Name: "tiny interval", Args: []string{"web", "--interval", "10ms"}, WantErr: true},
		{Name: "bad duration", Args: []string{"web", "--timeout", "ten"}, WantErr: true},
		{Name: "missing stack", WantErr: true},
	})
}

func TestNewCmdObjects(t *testing.T) {
	cmdtest.RunTable(t, NewCmdObjects, func(o *ObjectsOptions) { o.Factory = nil }, []cmdtest.FlagCase[ObjectsOptions]{
		{Name: "wide", Args: []string{"web", "-o", "wide"}, Want: ObjectsOptions{Ref: "web", Format: output.FormatWide}},
		{Name: "limit", Args: []string{"web", "--limit", "5"}, Want: ObjectsOptions{Ref: "web", Format: output.FormatTable, Limit: 5}},
		{Name: "negative limit", Args: []string{"web", "--limit", "-5"}, WantErr: true},
		{Name: "missing stack", WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdDiff(t *testing.T) {
	a, b := "9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d", "1f3a8c2d-0b6d-4f3c-8a55-1d2f3a4b5c6d"
	cmdtest.RunTable(t, NewCmdDiff, func(o *DiffOptions) { o.Factory = nil }, []cmdtest.FlagCase[DiffOptions]{
		{Name: "stack", Args: []string{"web"}, Want: DiffOptions{Args: []string{"web"}}},
		{Name: "two objects", Args: []string{a, b, "--exit-code"}, Want: DiffOptions{Args: []string{a, b}, ExitCode: true}},
		{Name: "stack with files", Args: []string{"web", "-f", "./m"}, Want: DiffOptions{Args: []string{"web"}, File: "./m"}},
		{Name: "no arguments", WantErr: true},
		{Name: "three arguments", Args: []string{a, b, a}, WantErr: true},
		{Name: "files with two objects", Args: []string{a, b, "-f", "-"}, WantErr: true},
	})
}

func TestNewCmdRollback(t *testing.T) {
	cmdtest.RunTable(t, NewCmdRollback, func(o *RollbackOptions) { o.Factory = nil }, []cmdtest.FlagCase[RollbackOptions]{
		{Name: "sequence", Args: []string{"web", "--to", "3"}, Want: RollbackOptions{Ref: "web", To: "3", Format: output.FormatTable}},
		{Name: "no target", Args: []string{"web"}, WantErr: true},
		{Name: "missing stack", Args: []string{"--to", "3"}, WantErr: true},
		{Name: "bad format", Args: []string{"web", "--to", "3", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdHealth(t *testing.T) {
	cmdtest.RunTable(t, NewCmdHealth, func(o *HealthOptions) { o.Factory = nil }, []cmdtest.FlagCase[HealthOptions]{
		{Name: "json", Args: []string{"web", "-o", "json"}, Want: HealthOptions{Ref: "web", Format: output.FormatJSON}},
		{Name: "missing stack", WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdDrift(t *testing.T) {
	cmdtest.RunTable(t, NewCmdDrift, func(o *DriftOptions) { o.Factory = nil }, []cmdtest.FlagCase[DriftOptions]{
		{Name: "table", Args: []string{"web"}, Want: DriftOptions{Ref: "web", Format: output.FormatTable}},
		{Name: "yaml", Args: []string{"web", "-o", "yaml"}, Want: DriftOptions{Ref: "web", Format: output.FormatYAML}},
		{Name: "missing stack", WantErr: true},
		{Name: "two stacks", Args: []string{"web", "api"}, WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdTelemetry(t *testing.T) {
	for _, kind := range []telemetryKind{telemetryEvents, telemetryLogs} {
		logs := kind == telemetryLogs
		newCmd := func(f *cmdutil.Factory, runF func(*TelemetryOptions) error) *cobra.Command {
			return NewCmdTelemetry(f, runF, kind)
		}
		cmdtest.RunTable(t, newCmd, func(o *TelemetryOptions) { o.Factory = nil }, []cmdtest.FlagCase[TelemetryOptions]{
			{Name: "defaults", Args: []string{"web"}, Want: TelemetryOptions{Ref: "web", Logs: logs, Format: output.FormatTable}},
			{Name: "since duration", Args: []string{"web", "--since", "15m", "--limit", "20", "--follow", "-o", "json"},
				Want: TelemetryOptions{Ref: "web", Logs: logs, Since: cmdtest.Now.Add(-15 * time.Minute), Limit: 20, Follow: true, Format: output.FormatJSON}},
			{Name: "since time", Args: []string{"web", "--since", "2026-01-02T10:00:00Z"},
				Want: TelemetryOptions{Ref: "web", Logs: logs, Since: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), Format: output.FormatTable}},
			{Name: "bad since", Args: []string{"web", "--since", "yesterday"}, WantErr: true},
			{Name: "limit too big", Args: []string{"web", "--limit", "5001"}, WantErr: true},
			{Name: "negative limit", Args: []string{"web", "--limit", "-1"}, WantErr: true},
			{Name: "missing stack", WantErr: true},
			{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
		})
	}
	// Only logs has -f as the short form of --follow.
	got, err := cmdtest.Parse(t, func(f *cmdutil.Factory, runF func(*TelemetryOptions) error) *cobra.Command {
		return NewCmdTelemetry(f, runF, telemetryLogs)
	}, false, "", []string{"web", "-f"})
	if err != nil || !got.Follow {
		t.Fatalf("logs -f: %+v %v", got, err)
	}
	_, err = cmdtest.Parse(t, func(f *cmdutil.Factory, runF func(*TelemetryOptions) error) *cobra.Command {
		return NewCmdTelemetry(f, runF, telemetryEvents)
	}, false, "", []string{"web", "-f"})
	cmdtest.WantFlagError(t, []string{"events", "-f"}, err)
}

func TestStackMetaVerbsUsageErrors(t *testing.T) {
	root := NewCmdStack(cmdtest.Factory(false, ""))
	for _, path := range []string{"label", "annotation"} {
		c, _, err := root.Find([]string{path})
		if err != nil || c == root {
			t.Fatalf("stack %s: not found (%v)", path, err)
		}
	}
	cmdtest.WantUsageErrors(t, func(f *cmdutil.Factory) *cobra.Command { return NewCmdStack(f) },
		[]string{"apply", "--stack", "web"}, []string{"wait", "web", "--for", "x"})
}
