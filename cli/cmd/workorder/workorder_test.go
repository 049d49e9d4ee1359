package workorder

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// execute runs cmd with args and reports whether it failed with a usage error.
func execute(t *testing.T, cmd *cobra.Command, args []string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(&discard{})
	cmd.SetErr(&discard{})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	_, err := cmd.ExecuteC()
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func testFactory(tty bool, stdin string) *cmdutil.Factory {
	ios, in, _, _ := iostreams.Test()
	in.WriteString(stdin)
	ios.SetStdinTTY(tty)
	ios.SetStdoutTTY(tty)
	return cmdutil.NewFactory("test", ios)
}

func isUsage(err error) bool { return cmdutil.ExitCodeOf(err) == cmdutil.ExitUsage }

func TestNewCmdList(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    ListOptions
		wantErr bool
	}{
		{name: "defaults", want: ListOptions{Interval: 2 * time.Second, Format: output.FormatTable}},
		{name: "filters", args: []string{"--status", "retry_pending", "--type", "build", "-o", "wide"},
			want: ListOptions{Status: "RETRY_PENDING", WorkType: "build", Interval: 2 * time.Second, Format: output.FormatWide}},
		{name: "watch", args: []string{"-w", "--interval", "5s", "-o", "json"},
			want: ListOptions{Watch: true, Interval: 5 * time.Second, Format: output.FormatJSON}},
		{name: "bad status", args: []string{"--status", "DONE"}, wantErr: true},
		{name: "bad format", args: []string{"-o", "csv"}, wantErr: true},
		{name: "tiny interval", args: []string{"--watch", "--interval", "1ms"}, wantErr: true},
		{name: "extra argument", args: []string{"x"}, wantErr: true},
		{name: "limit", args: []string{"--limit", "50"}, want: ListOptions{Limit: 50, Interval: 2 * time.Second, Format: output.FormatTable}},
		{name: "negative limit", args: []string{"--limit", "-1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ListOptions
			cmd := NewCmdList(testFactory(false, ""), func(o *ListOptions) error { got = o; return nil })
			err := execute(t, cmd, tt.args)
			if tt.wantErr {
				if !isUsage(err) {
					t.Fatalf("want usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Factory = nil
			if *got != tt.want {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdCreate(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte("kind: Job\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reqFile := filepath.Join(dir, "req.json")
	if err := os.WriteFile(reqFile, []byte(`{"work_type":"custom","yaml_content":"kind: Pod\n","targeting":{"labels":["a"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := uuid.MustParse("5b0e6f9e-8a0c-4d52-a1f4-3a1c2b7d9e10")
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    client.CreateWorkOrderRequest
		wantErr bool
	}{
		{name: "flags", args: []string{"--type", "build", "--yaml-file", job, "--agent", agent.String(), "--label", "gpu", "--annotation", "region=eu", "--max-retries", "0"},
			want: client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "kind: Job\n", MaxRetries: i32(0),
				Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{agent}, Labels: []string{"gpu"}, Annotations: map[string]string{"region": "eu"}}}},
		{name: "json file plus flags", args: []string{"-f", reqFile, "--label", "b", "--backoff", "5"},
			want: client.CreateWorkOrderRequest{WorkType: "custom", YAMLContent: "kind: Pod\n", BackoffSeconds: i32(5),
				Targeting: &client.WorkOrderTargeting{Labels: []string{"a", "b"}}}},
		{name: "yaml on stdin", args: []string{"-f", "-"}, stdin: "work_type: build\nyaml_content: x\nclaim_timeout_seconds: 10\ntarget_agent_ids: [" + agent.String() + "]\n",
			want: client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "x", ClaimTimeoutSeconds: i32(10), TargetAgentIDs: []uuid.UUID{agent}}},
		{name: "yaml content on stdin", args: []string{"--type", "build", "--yaml-file", "-", "--label", "l"}, stdin: "kind: Job\n",
			want: client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "kind: Job\n", Targeting: &client.WorkOrderTargeting{Labels: []string{"l"}}}},
		{name: "--target-label is --label", args: []string{"--type", "build", "--yaml-file", job, "--target-label", "gpu", "--label", "edge", "--target-label", "eu"},
			want: client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "kind: Job\n",
				Targeting: &client.WorkOrderTargeting{Labels: []string{"gpu", "edge", "eu"}}}},
		{name: "unknown field in file", args: []string{"-f", "-"}, stdin: "work_typo: build\n", wantErr: true},
		{name: "no type", args: []string{"--yaml-file", job, "--label", "l"}, wantErr: true},
		{name: "no yaml", args: []string{"--type", "build", "--label", "l"}, wantErr: true},
		{name: "no targeting", args: []string{"--type", "build", "--yaml-file", job}, wantErr: true},
		{name: "bad agent", args: []string{"--type", "build", "--yaml-file", job, "--agent", "x"}, wantErr: true},
		{name: "bad annotation", args: []string{"--type", "build", "--yaml-file", job, "--annotation", "novalue"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *CreateOptions
			cmd := NewCmdCreate(testFactory(false, tt.stdin), func(o *CreateOptions) error { got = o; return nil })
			err := execute(t, cmd, tt.args)
			if tt.wantErr {
				if !isUsage(err) {
					t.Fatalf("want usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Request, tt.want) {
				t.Fatalf("request\n got %+v\nwant %+v", got.Request, tt.want)
			}
		})
	}
}

func TestNewCmdDelete(t *testing.T) {
	id := uuid.NewString()
	tests := []struct {
		name    string
		tty     bool
		args    []string
		wantYes bool
		wantErr bool
	}{
		{name: "tty asks later", tty: true, args: []string{id}},
		{name: "yes", args: []string{id, "--yes"}, wantYes: true},
		{name: "no tty needs yes", args: []string{id}, wantErr: true},
		{name: "missing id", args: []string{"--yes"}, wantErr: true},
		{name: "bad id", args: []string{"nope", "--yes"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *DeleteOptions
			cmd := NewCmdDelete(testFactory(tt.tty, ""), func(o *DeleteOptions) error { got = o; return nil })
			err := execute(t, cmd, tt.args)
			if tt.wantErr {
				if !isUsage(err) {
					t.Fatalf("want usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID.String() != id || got.Yes != tt.wantYes {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestNewCmdLog(t *testing.T) {
	agent := uuid.MustParse("5b0e6f9e-8a0c-4d52-a1f4-3a1c2b7d9e10")
	yes, no := true, false
	tests := []struct {
		name    string
		args    []string
		success *bool
		agent   *uuid.UUID
		limit   int
		wantErr bool
	}{
		{name: "defaults"},
		{name: "success", args: []string{"--success"}, success: &yes},
		{name: "failures", args: []string{"--success=false", "--limit", "3"}, success: &no, limit: 3},
		{name: "agent", args: []string{"--agent", agent.String()}, agent: &agent},
		{name: "bad agent", args: []string{"--agent", "x"}, wantErr: true},
		{name: "negative limit", args: []string{"--limit", "-1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *LogOptions
			cmd := NewCmdLog(testFactory(false, ""), func(o *LogOptions) error { got = o; return nil })
			err := execute(t, cmd, tt.args)
			if tt.wantErr {
				if !isUsage(err) {
					t.Fatalf("want usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Success, tt.success) || !reflect.DeepEqual(got.AgentID, tt.agent) || got.Limit != tt.limit {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestNewCmdGet(t *testing.T) {
	id := uuid.NewString()
	var got *GetOptions
	cmd := NewCmdGet(testFactory(false, ""), func(o *GetOptions) error { got = o; return nil })
	if err := execute(t, cmd, []string{id, "-o", "yaml"}); err != nil {
		t.Fatal(err)
	}
	if got.ID.String() != id || got.Format != output.FormatYAML {
		t.Fatalf("got %+v", got)
	}
	for _, args := range [][]string{{}, {id, id}, {"x"}} {
		cmd := NewCmdGet(testFactory(false, ""), func(*GetOptions) error { return nil })
		if err := execute(t, cmd, args); !isUsage(err) {
			t.Fatalf("%v: want usage error, got %v", args, err)
		}
	}
}
