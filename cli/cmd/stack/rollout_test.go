package stack

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/client"
)

func TestBuildPolicy(t *testing.T) {
	tests := []struct {
		name    string
		in      PolicyFlags
		want    client.RolloutPolicy
		wantErr string
	}{
		{name: "waves in order with settings",
			in: PolicyFlags{Waves: []string{"canary=canary", "eu=region-eu, prod", "rest=env:prod"},
				Annotations: []string{"eu=tier=edge"}, MaxUnavailable: []string{"eu=25%", "rest=3"},
				Gate: "Healthy", Pause: "10m", FailureThreshold: "10%"},
			want: client.RolloutPolicy{Waves: []client.RolloutWave{
				{Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}},
				{Name: "eu", Selector: client.Selector{Labels: []string{"region-eu", "prod"}, Annotations: map[string]string{"tier": "edge"}}, MaxUnavailable: "25%"},
				{Name: "rest", Selector: client.Selector{Labels: []string{"env:prod"}}, MaxUnavailable: "3"},
			}, Gate: client.GateHealthy, Pause: "10m", FailureThreshold: "10%"}},
		{name: "annotation only wave, manual pause, zero threshold",
			in: PolicyFlags{Waves: []string{"eu"}, Annotations: []string{"eu=region=eu-west=1"}, Pause: "Manual", FailureThreshold: "0"},
			want: client.RolloutPolicy{Waves: []client.RolloutWave{
				{Name: "eu", Selector: client.Selector{Annotations: map[string]string{"region": "eu-west=1"}}},
			}, Pause: client.PauseManual, FailureThreshold: "0"}},
		{name: "no selector", in: PolicyFlags{Waves: []string{"canary="}}, wantErr: `wave "canary" selects no agents`},
		{name: "no name", in: PolicyFlags{Waves: []string{"=canary"}}, wantErr: "want NAME=LABEL"},
		{name: "reserved name", in: PolicyFlags{Waves: []string{"remaining=x"}}, wantErr: "names the last wave"},
		{name: "duplicate", in: PolicyFlags{Waves: []string{"a=x", "a=y"}}, wantErr: `wave "a" is given twice`},
		{name: "annotation of unknown wave", in: PolicyFlags{Waves: []string{"a=x"}, Annotations: []string{"b=k=v"}}, wantErr: "no --wave b"},
		{name: "annotation without value", in: PolicyFlags{Waves: []string{"a=x"}, Annotations: []string{"a=k"}}, wantErr: "want NAME=KEY=VALUE"},
		{name: "max unavailable zero", in: PolicyFlags{Waves: []string{"a=x"}, MaxUnavailable: []string{"a=0"}}, wantErr: "at least 1"},
		{name: "max unavailable 0%", in: PolicyFlags{Waves: []string{"a=x"}, MaxUnavailable: []string{"a=0%"}}, wantErr: "at least 1"},
		{name: "max unavailable over 100%", in: PolicyFlags{Waves: []string{"a=x"}, MaxUnavailable: []string{"a=101%"}}, wantErr: "percentage"},
		{name: "max unavailable of unknown wave", in: PolicyFlags{Waves: []string{"a=x"}, MaxUnavailable: []string{"b=1"}}, wantErr: "no --wave b"},
		{name: "bad gate", in: PolicyFlags{Waves: []string{"a=x"}, Gate: "ready"}, wantErr: "want applied or healthy"},
		{name: "bad pause", in: PolicyFlags{Waves: []string{"a=x"}, Pause: "later"}, wantErr: "want a duration"},
		{name: "negative pause", in: PolicyFlags{Waves: []string{"a=x"}, Pause: "-1m"}, wantErr: "want a duration"},
		{name: "negative threshold", in: PolicyFlags{Waves: []string{"a=x"}, FailureThreshold: "-1"}, wantErr: "at least 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildPolicy(tt.in)
			if tt.wantErr != "" {
				cmdtest.WantFlagError(t, tt.in.Waves, err)
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

const policyYAML = `stack_id: 9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d
waves:
  - name: canary
    selector:
      labels: [canary]
    max_unavailable: 1
  - name: eu
    selector:
      annotations: {region: eu}
    max_unavailable: 25%
    pause: manual
gate: healthy
pause: 10m
failure_threshold: 2
created_at: "2026-01-02T15:04:05Z"
updated_at: "2026-01-02T15:04:05Z"
`

var policyWant = client.RolloutPolicy{Waves: []client.RolloutWave{
	{Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}, MaxUnavailable: "1"},
	{Name: "eu", Selector: client.Selector{Annotations: map[string]string{"region": "eu"}}, MaxUnavailable: "25%", Pause: client.PauseManual},
}, Gate: client.GateHealthy, Pause: "10m", FailureThreshold: "2"}

func TestParsePolicy(t *testing.T) {
	got, err := ParsePolicy([]byte(policyYAML))
	if err != nil || !reflect.DeepEqual(got, policyWant) {
		t.Fatalf("yaml: %+v, %v", got, err)
	}
	got, err = ParsePolicy([]byte(`{"waves":[{"name":"canary","selector":{"labels":["canary"]},"max_unavailable":1},
		{"name":"eu","selector":{"annotations":{"region":"eu"}},"max_unavailable":"25%","pause":"manual"}],
		"gate":"healthy","pause":"10m","failure_threshold":2}`))
	if err != nil || !reflect.DeepEqual(got, policyWant) {
		t.Fatalf("json: %+v, %v", got, err)
	}
	for _, bad := range []string{"waves: [{name: a, selektor: {labels: [x]}}]", "- a\n- b\n", "gate: applied\n", "waves: [\n"} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestNewCmdPolicySet(t *testing.T) {
	canary := client.RolloutPolicy{Waves: []client.RolloutWave{{Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}}}, Pause: "5m"}
	cmdtest.RunTable(t, NewCmdPolicySet, func(o *PolicySetOptions) { o.Factory = nil }, []cmdtest.FlagCase[PolicySetOptions]{
		{Name: "flags", Args: []string{"web", "--wave", "canary=canary", "--pause", "5m", "-o", "json"},
			Want: PolicySetOptions{Ref: "web", Waves: []string{"canary=canary"}, Pause: "5m", Format: output.FormatJSON, Policy: canary}},
		{Name: "stdin", Args: []string{"web", "-f", "-"}, Stdin: policyYAML,
			Want: PolicySetOptions{Ref: "web", File: "-", Format: output.FormatTable, Policy: policyWant}},
		{Name: "file and flags", Args: []string{"web", "-f", "-", "--gate", "healthy"}, Stdin: policyYAML, WantErr: true},
		{Name: "bad file", Args: []string{"web", "-f", "-"}, Stdin: "waves: 3\n", WantErr: true},
		{Name: "no waves", Args: []string{"web", "--pause", "5m"}, WantErr: true},
		{Name: "bad wave", Args: []string{"web", "--wave", "canary"}, WantErr: true},
		{Name: "missing stack", Args: []string{"--wave", "a=b"}, WantErr: true},
	})
}

func TestNewCmdRolloutStatus(t *testing.T) {
	cmdtest.RunTable(t, NewCmdRolloutStatus, func(o *RolloutStatusOptions) { o.Factory = nil }, []cmdtest.FlagCase[RolloutStatusOptions]{
		{Name: "defaults", Args: []string{"web"}, Want: RolloutStatusOptions{Ref: "web", Interval: 2 * time.Second, Format: output.FormatTable}},
		{Name: "watch wide", Args: []string{"web", "-w", "--interval", "1s", "-o", "wide"},
			Want: RolloutStatusOptions{Ref: "web", Watch: true, Interval: time.Second, Format: output.FormatWide}},
		{Name: "tiny interval", Args: []string{"web", "--watch", "--interval", "1ms"}, WantErr: true},
		{Name: "missing stack", WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "csv"}, WantErr: true},
	})
}

func TestNewCmdRolloutAction(t *testing.T) {
	for _, action := range []string{ActionPromote, ActionPause, ActionResume} {
		newCmd := func(f *cmdutil.Factory, runF func(*RolloutActionOptions) error) *cobra.Command {
			return NewCmdRolloutAction(f, runF, action)
		}
		cmdtest.RunTable(t, newCmd, func(o *RolloutActionOptions) { o.Factory = nil }, []cmdtest.FlagCase[RolloutActionOptions]{
			{Name: action, Args: []string{"web", "-o", "yaml"}, Want: RolloutActionOptions{Ref: "web", Action: action, Interval: 2 * time.Second, Format: output.FormatYAML}},
			{Name: action + " watch", Args: []string{"web", "-w", "--interval", "500ms"},
				Want: RolloutActionOptions{Ref: "web", Action: action, Watch: true, Interval: 500 * time.Millisecond, Format: output.FormatTable}},
			{Name: action + " tiny interval", Args: []string{"web", "--watch", "--interval", "1ms"}, WantErr: true},
			{Name: action + " without a stack", WantErr: true},
			{Name: action + " has no --yes", Args: []string{"web", "--yes"}, WantErr: true},
		})
	}
	abort := func(f *cmdutil.Factory, runF func(*RolloutActionOptions) error) *cobra.Command {
		return NewCmdRolloutAction(f, runF, ActionAbort)
	}
	cmdtest.RunTable(t, abort, func(o *RolloutActionOptions) { o.Factory = nil }, []cmdtest.FlagCase[RolloutActionOptions]{
		{Name: "yes", Args: []string{"web", "-y"}, Want: RolloutActionOptions{Ref: "web", Action: ActionAbort, Yes: true, Interval: 2 * time.Second, Format: output.FormatTable}},
		{Name: "yes watch", Args: []string{"web", "-y", "--watch"},
			Want: RolloutActionOptions{Ref: "web", Action: ActionAbort, Yes: true, Watch: true, Interval: 2 * time.Second, Format: output.FormatTable}},
		{Name: "tty asks later", TTY: true, Args: []string{"web"}, Want: RolloutActionOptions{Ref: "web", Action: ActionAbort, Interval: 2 * time.Second, Format: output.FormatTable}},
		{Name: "no tty needs yes", Args: []string{"web"}, WantErr: true},
	})
}

// sampleRollout is a rollout halted in its second wave.
func sampleRollout(now time.Time) client.Rollout {
	id := uuid.MustParse("11111111-1111-4111-8111-111111111111")
	obj := uuid.MustParse("22222222-2222-4222-8222-222222222222")
	prev := uuid.MustParse("33333333-3333-4333-8333-333333333333")
	agent := uuid.MustParse("44444444-4444-4444-8444-444444444444")
	t0, t1 := now.Add(-30*time.Minute), now.Add(-20*time.Minute)
	return client.Rollout{ID: id, DeploymentObjectID: obj, PreviousObjectID: &prev, Status: client.RolloutHalted,
		CurrentWave: 1, Failures: 2, FailureLimit: 1, Reason: "failed agents: edge-2, edge-3",
		Waves: []client.RolloutWaveStatus{
			{Index: 0, Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}, Gate: "applied", Pause: "10m",
				State: client.WaveComplete, Agents: 1, Released: 1, Applied: 1, Passed: 1, UnlockedAt: &t0, CompletedAt: &t1},
			{Index: 1, Name: "eu", Selector: client.Selector{Annotations: map[string]string{"region": "eu"}}, Gate: "applied", Pause: "10m",
				MaxUnavailable: "2", State: client.WaveInProgress, Agents: 3, Released: 2, Failed: 2, UnlockedAt: &t1},
			{Index: 2, Name: "remaining", Gate: "applied", Pause: "10m", State: client.WavePending},
		},
		Agents: []client.RolloutAgent{{AgentID: agent, AgentName: "edge-2", Wave: 1, State: client.RolloutAgentFailed, ReleasedAt: &t1, Message: "apply failed"}},
	}
}

func TestPrintRollout(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	r := sampleRollout(now)
	hold := client.Hold{AgentName: "edge-4", StackName: "web", Reason: client.HoldRollout, RolloutID: &r.ID, Wave: new(int)}
	*hold.Wave = 1
	win := client.Hold{AgentName: "edge-5", StackName: "web", Reason: client.HoldWindow, WindowName: "freeze"}
	v := RolloutView{Rollout: r, Holds: resolve.Holds{Holds: []client.Hold{hold, win}, Rollouts: map[uuid.UUID]client.Rollout{r.ID: r}}}
	header := `Rollout:       11111111-1111-4111-8111-111111111111
Object:        22222222-2222-4222-8222-222222222222 (previous: 33333333-3333-4333-8333-333333333333)
Status:        halted
Current wave:  1 (eu) of 3
Next wave at:  -
Failures:      2/1
Reason:        failed agents: edge-2, edge-3
Held:          1 agent by rollout wave 1 (eu), 1 agent by window freeze

`
	tests := []struct {
		name   string
		format output.Format
		tty    bool
		want   string
	}{
		{"table tty", output.FormatTable, true, header +
			"WAVE        STATE         AGENTS   RELEASED   APPLIED   PASSED   FAILED   UNLOCKED   COMPLETED\n" +
			"canary      complete      1        1          1         1        0        30m        20m\n" +
			"eu          in_progress   3        2          0         0        2        20m        -\n" +
			"remaining   pending       0        0          0         0        0        -          -\n"},
		{"table piped", output.FormatTable, false, header +
			"canary\tcomplete\t1\t1\t1\t1\t0\t2026-01-02T14:34:05Z\t2026-01-02T14:44:05Z\n" +
			"eu\tin_progress\t3\t2\t0\t0\t2\t2026-01-02T14:44:05Z\t-\n" +
			"remaining\tpending\t0\t0\t0\t0\t0\t-\t-\n"},
		{"wide tty", output.FormatWide, true, header +
			"WAVE        STATE         AGENTS   RELEASED   APPLIED   PASSED   FAILED   UNLOCKED   COMPLETED   SELECTOR         GATE      PAUSE   MAX UNAVAILABLE\n" +
			"canary      complete      1        1          1         1        0        30m        20m         canary           applied   10m     all\n" +
			"eu          in_progress   3        2          0         0        2        20m        -           region=eu        applied   10m     2\n" +
			"remaining   pending       0        0          0         0        0        -          -           (other agents)   applied   10m     all\n" +
			"\nAgents:\n" +
			"AGENT    WAVE     STATE    RELEASED   MESSAGE        AGENT ID\n" +
			"edge-2   1 (eu)   failed   20m        apply failed   44444444-4444-4444-8444-444444444444\n"},
		{"name", output.FormatName, false, "rollout/11111111-1111-4111-8111-111111111111\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			ios.SetStdoutTTY(tt.tty)
			p := &output.Printer{IO: ios, Format: tt.format, Now: func() time.Time { return now }}
			if err := PrintRollout(p, v); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", out, tt.want)
			}
		})
	}
	ios, _, out, _ := iostreams.Test()
	p := &output.Printer{IO: ios, Format: output.FormatJSON, Now: func() time.Time { return now }}
	if err := PrintRollout(p, v); err != nil || !strings.Contains(out.String(), `"status": "halted"`) || strings.Contains(out.String(), "freeze") {
		t.Fatalf("json is the rollout alone: %v\n%s", err, out)
	}
	// A manual pause waits for promote.
	r.Status, r.Reason = client.RolloutWaiting, ""
	ios, _, out, _ = iostreams.Test()
	p = &output.Printer{IO: ios, Format: output.FormatTable, Now: func() time.Time { return now }}
	if err := PrintRollout(p, RolloutView{Rollout: r}); err != nil || !strings.Contains(out.String(), "Next wave at:  on promote\n") ||
		!strings.Contains(out.String(), "Reason:        -\n") || strings.Contains(out.String(), "Held:") {
		t.Fatalf("waiting: %v\n%s", err, out)
	}
}

func TestPrintPolicy(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	pol := client.RolloutPolicy{Waves: []client.RolloutWave{{Name: "canary", Selector: client.Selector{Labels: []string{"canary", "prod"}}, MaxUnavailable: "1"}},
		Pause: client.PauseManual, UpdatedAt: now.Add(-time.Hour)}
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	p := &output.Printer{IO: ios, Format: output.FormatTable, Now: func() time.Time { return now }}
	if err := PrintPolicy(p, pol); err != nil {
		t.Fatal(err)
	}
	want := `Gate:               applied (default)
Pause:              manual
Failure threshold:  0 (default)
Updated:            1h

WAVE        SELECTOR         MAX UNAVAILABLE   GATE   PAUSE
canary      canary,prod      1                 -      -
remaining   (other agents)   all               -      -
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}
