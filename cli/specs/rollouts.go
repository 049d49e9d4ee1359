package specs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// SelectorText renders an agent selector: its labels, then its annotations as key=value
// (sorted by key), comma-separated; "all" for the empty selector, which selects every agent.
func SelectorText(s client.Selector) string {
	parts := append([]string(nil), s.Labels...)
	keys := make([]string, 0, len(s.Annotations))
	for k := range s.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+s.Annotations[k])
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

// waveSelector renders the selector of a wave; the implicit last wave takes the agents no
// other wave selects.
func waveSelector(name string, s client.Selector) string {
	if name == client.ImplicitWaveName && len(s.Labels) == 0 && len(s.Annotations) == 0 {
		return "(other agents)"
	}
	return SelectorText(s)
}

// orDefault renders an optional policy setting, naming its default when unset.
func orDefault(v, def string) string {
	if v == "" {
		return def + " (default)"
	}
	return v
}

// WaveName names wave index of r: "1 (eu)", or the index alone when r does not know it.
func WaveName(r client.Rollout, index int) string {
	for _, w := range r.Waves {
		if w.Index == index && w.Name != "" {
			return fmt.Sprintf("%d (%s)", index, w.Name)
		}
	}
	return strconv.Itoa(index)
}

// RolloutWave is the table of a rollout's waves.
var RolloutWave = output.Spec[client.RolloutWaveStatus]{
	Kind: "wave",
	Name: func(w client.RolloutWaveStatus) string { return w.Name },
	Columns: []output.Column[client.RolloutWaveStatus]{
		output.Text("WAVE", func(w client.RolloutWaveStatus) string { return w.Name }),
		output.Text("STATE", func(w client.RolloutWaveStatus) string { return w.State }),
		output.Text("AGENTS", func(w client.RolloutWaveStatus) string { return strconv.Itoa(w.Agents) }),
		output.Text("RELEASED", func(w client.RolloutWaveStatus) string { return strconv.Itoa(w.Released) }),
		output.Text("APPLIED", func(w client.RolloutWaveStatus) string { return strconv.Itoa(w.Applied) }),
		output.Text("PASSED", func(w client.RolloutWaveStatus) string { return strconv.Itoa(w.Passed) }),
		output.Text("FAILED", func(w client.RolloutWaveStatus) string { return strconv.Itoa(w.Failed) }),
		output.Age("UNLOCKED", func(w client.RolloutWaveStatus) *time.Time { return w.UnlockedAt }),
		output.Age("COMPLETED", func(w client.RolloutWaveStatus) *time.Time { return w.CompletedAt }),
		output.WideOnly(output.Text("SELECTOR", func(w client.RolloutWaveStatus) string { return waveSelector(w.Name, w.Selector) })),
		output.WideOnly(output.Text("GATE", func(w client.RolloutWaveStatus) string { return orDash(w.Gate) })),
		output.WideOnly(output.Text("PAUSE", func(w client.RolloutWaveStatus) string { return orDash(w.Pause) })),
		output.WideOnly(output.Text("MAX UNAVAILABLE", func(w client.RolloutWaveStatus) string { return orAll(w.MaxUnavailable) })),
	},
}

// orAll renders an optional max_unavailable: unset releases the whole wave at once.
func orAll(v client.IntOrPercent) string {
	if v == "" {
		return "all"
	}
	return string(v)
}

// RolloutAgentRow is one agent of a rollout with the name of its wave: a row of the agents
// table.
type RolloutAgentRow struct {
	Agent client.RolloutAgent
	Wave  string
}

// RolloutAgentRows pairs the agents of r with the names of their waves.
func RolloutAgentRows(r client.Rollout) []RolloutAgentRow {
	rows := make([]RolloutAgentRow, 0, len(r.Agents))
	for _, a := range r.Agents {
		rows = append(rows, RolloutAgentRow{Agent: a, Wave: WaveName(r, a.Wave)})
	}
	return rows
}

// RolloutAgent is the table of the agents of a rollout.
var RolloutAgent = output.Spec[RolloutAgentRow]{
	Kind: "agent",
	Name: func(r RolloutAgentRow) string { return r.Agent.AgentID.String() },
	Columns: []output.Column[RolloutAgentRow]{
		output.Text("AGENT", func(r RolloutAgentRow) string { return r.Agent.AgentName }),
		output.Text("WAVE", func(r RolloutAgentRow) string { return r.Wave }),
		output.Text("STATE", func(r RolloutAgentRow) string { return r.Agent.State }),
		output.Age("RELEASED", func(r RolloutAgentRow) *time.Time { return r.Agent.ReleasedAt }),
		output.Text("MESSAGE", func(r RolloutAgentRow) string { return orDash(r.Agent.Message) }),
		output.WideOnly(output.Text("AGENT ID", func(r RolloutAgentRow) string { return r.Agent.AgentID.String() })),
	},
}

// Rollout is the table of a stack's rollouts.
var Rollout = output.Spec[client.Rollout]{
	Kind: "rollout",
	Name: func(r client.Rollout) string { return r.ID.String() },
	Columns: []output.Column[client.Rollout]{
		output.Text("ID", func(r client.Rollout) string { return r.ID.String() }),
		output.Text("OBJECT", func(r client.Rollout) string { return r.DeploymentObjectID.String() }),
		output.Text("STATUS", func(r client.Rollout) string { return r.Status }),
		output.Text("WAVE", func(r client.Rollout) string { return WaveName(r, r.CurrentWave) }),
		output.Text("FAILURES", func(r client.Rollout) string { return Failures(r) }),
		output.Age("STARTED", func(r client.Rollout) *time.Time { return &r.CreatedAt }),
		output.Age("FINISHED", func(r client.Rollout) *time.Time { return r.FinishedAt }),
		output.WideOnly(output.Text("PREVIOUS OBJECT", func(r client.Rollout) string { return idOrDash(r.PreviousObjectID) })),
		output.WideOnly(output.Text("REASON", func(r client.Rollout) string { return orDash(r.Reason) })),
	},
}

// Failures renders a rollout's failures against the limit it tolerates ("1/2").
func Failures(r client.Rollout) string {
	return strconv.Itoa(r.Failures) + "/" + strconv.Itoa(r.FailureLimit)
}

// PolicyWaveRows returns the waves of a policy followed by the implicit last wave, as the
// rollout of an object will run them.
func PolicyWaveRows(p client.RolloutPolicy) []client.RolloutWave {
	return append(append([]client.RolloutWave(nil), p.Waves...), client.RolloutWave{Name: client.ImplicitWaveName})
}

// PolicyWave is the table of the waves of a rollout policy.
var PolicyWave = output.Spec[client.RolloutWave]{
	Kind: "wave",
	Name: func(w client.RolloutWave) string { return w.Name },
	Columns: []output.Column[client.RolloutWave]{
		output.Text("WAVE", func(w client.RolloutWave) string { return w.Name }),
		output.Text("SELECTOR", func(w client.RolloutWave) string { return waveSelector(w.Name, w.Selector) }),
		output.Text("MAX UNAVAILABLE", func(w client.RolloutWave) string { return orAll(w.MaxUnavailable) }),
		output.Text("GATE", func(w client.RolloutWave) string { return orDash(w.Gate) }),
		output.Text("PAUSE", func(w client.RolloutWave) string { return orDash(w.Pause) }),
	},
}

// PolicyHeader is what a rollout policy sets for every wave, as label and value lines.
func PolicyHeader(p client.RolloutPolicy) [][2]string {
	threshold := string(p.FailureThreshold)
	return [][2]string{
		{"Gate", orDefault(p.Gate, client.GateApplied)},
		{"Pause", orDefault(p.Pause, "0s")},
		{"Failure threshold", orDefault(threshold, "0")},
	}
}
