package rollouts

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/events"
)

// WaveState is the stored state of one wave (rollouts.waves holds one per wave, the
// implicit last one included).
type WaveState struct {
	UnlockedAt  *time.Time `json:"unlocked_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// State is the part of a rollout a step may change.
type State struct {
	Status           string
	CurrentWave      int
	Waves            []WaveState
	NextWaveAt       *time.Time
	FailuresAccepted int
	Reason           string
	FinishedAt       *time.Time
}

func (s State) clone() State {
	s.Waves = append([]WaveState(nil), s.Waves...)
	return s
}

// equal reports whether two states are the same.
func (s State) equal(o State) bool {
	if s.Status != o.Status || s.CurrentWave != o.CurrentWave || s.FailuresAccepted != o.FailuresAccepted ||
		s.Reason != o.Reason || !timeEqual(s.NextWaveAt, o.NextWaveAt) || !timeEqual(s.FinishedAt, o.FinishedAt) ||
		len(s.Waves) != len(o.Waves) {
		return false
	}
	for i := range s.Waves {
		if !timeEqual(s.Waves[i].UnlockedAt, o.Waves[i].UnlockedAt) || !timeEqual(s.Waves[i].CompletedAt, o.Waves[i].CompletedAt) {
			return false
		}
	}
	return true
}

func timeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Active reports whether a status lets the rollout still release its object.
func Active(status string) bool {
	return client.Rollout{Status: status}.Active()
}

// Agent is an agent associated with the rollout's stack.
type Agent struct {
	ID          uuid.UUID
	Name        string
	Labels      []string
	Annotations map[string]string
}

// Release is an agent the rollout released its object to.
type Release struct {
	Wave int
	At   time.Time
}

// Outcome is what an agent reported on the rollout's object.
type Outcome struct {
	Deploy  string // status of its latest DEPLOY event: SUCCESS, FAILURE, or "" when none
	Message string // that event's message
	Health  string // its deployment health (healthy, degraded, failing, unknown) or ""
}

// Input is everything a step goes by.
type Input struct {
	Policy   client.RolloutPolicy
	State    State
	Agents   []Agent // the live agents associated with the stack now
	Released map[uuid.UUID]Release
	Outcomes map[uuid.UUID]Outcome
	Now      time.Time
}

// Event is a webhook event a step emits.
type Event string

// Webhook events of rollouts.
const (
	EventStarted       Event = events.RolloutStarted
	EventWaveCompleted Event = events.RolloutWaveCompleted
	EventHalted        Event = events.RolloutHalted
	EventCompleted     Event = events.RolloutCompleted
	EventAborted       Event = events.RolloutAborted
)

// Step is the outcome of a step: the new state, the agents to release and the events to
// emit, in order.
type Step struct {
	State   State
	Release []uuid.UUID // in release order (by wave, then agent name)
	Waves   map[uuid.UUID]int
	Events  []Event
}

// Changed reports whether the step changes anything of the rollout before.
func (s Step) Changed(before State) bool { return len(s.Release) > 0 || !s.State.equal(before) }

// member is one agent of the rollout as a step sees it.
type member struct {
	Agent
	wave     int
	released bool
	at       time.Time
	state    string // a client.RolloutAgent* state
	message  string
	applied  bool // reported applying the object with success
}

// done reports whether the agent is past its wave's gate, passed or failed.
func (m member) done() bool {
	return m.state == client.RolloutAgentPassed || m.state == client.RolloutAgentFailed
}

// analysis is the rollout's agents sorted into waves, with their states.
type analysis struct {
	waves    []waveSettings
	members  []member
	byWave   [][]int // indexes into members, by agent name
	failures int
	failed   []string
	limit    int // failures tolerated beyond failures_accepted
}

func analyze(in Input) analysis {
	a := analysis{waves: settings(in.Policy)}
	a.byWave = make([][]int, len(a.waves))
	agents := append([]Agent(nil), in.Agents...)
	sort.SliceStable(agents, func(i, j int) bool {
		if agents[i].Name != agents[j].Name {
			return agents[i].Name < agents[j].Name
		}
		return agents[i].ID.String() < agents[j].ID.String()
	})
	last := len(a.waves) - 1
	for _, ag := range agents {
		m := member{Agent: ag, wave: waveOf(a.waves, ag.Labels, ag.Annotations), state: client.RolloutAgentWaiting}
		if r, ok := in.Released[ag.ID]; ok {
			m.released, m.at = true, r.At
			if r.Wave >= 0 && r.Wave <= last {
				m.wave = r.Wave
			}
			m.judge(a.waves[m.wave].gate, in.Outcomes[ag.ID])
		}
		if m.state == client.RolloutAgentFailed {
			a.failures++
			a.failed = append(a.failed, m.Name)
		}
		a.byWave[m.wave] = append(a.byWave[m.wave], len(a.members))
		a.members = append(a.members, m)
	}
	threshold := Normalize(in.Policy).FailureThreshold
	a.limit, _ = threshold.Resolve(len(agents))
	return a
}

// judge sets a released agent's state from what it reported, against its wave's gate.
func (m *member) judge(gate string, o Outcome) {
	switch {
	case strings.EqualFold(o.Deploy, "FAILURE"):
		m.state, m.message = client.RolloutAgentFailed, o.Message
	case !strings.EqualFold(o.Deploy, "SUCCESS"):
		m.state = client.RolloutAgentApplying
	case gate != client.GateHealthy || o.Health == "healthy":
		m.state, m.applied = client.RolloutAgentPassed, true
	case o.Health == "failing":
		m.state, m.applied, m.message = client.RolloutAgentFailed, true, "deployment health is failing"
	default:
		m.state, m.applied = client.RolloutAgentApplied, true
	}
}

// complete reports whether every agent of wave w is released and passed or failed.
func (a analysis) complete(w int) bool {
	for _, i := range a.byWave[w] {
		if m := a.members[i]; !m.released || !m.done() {
			return false
		}
	}
	return true
}

// agentsAfter reports whether a wave after w has agents.
func (a analysis) agentsAfter(w int) bool {
	for _, m := range a.byWave[w+1:] {
		if len(m) > 0 {
			return true
		}
	}
	return false
}

// release marks released, at now, the agents of wave w that its max_unavailable lets in,
// and returns them.
func (a analysis) release(w int, now time.Time) []int {
	allowed := len(a.byWave[w])
	if mu := a.waves[w].maxUnavailable; mu != "" {
		if n, ok := mu.Resolve(len(a.byWave[w])); ok {
			allowed = max(n, 1)
		}
	}
	for _, i := range a.byWave[w] {
		if m := a.members[i]; m.released && !m.done() {
			allowed--
		}
	}
	var out []int
	for _, i := range a.byWave[w] {
		if allowed <= 0 {
			break
		}
		m := &a.members[i]
		if m.released {
			continue
		}
		m.released, m.at, m.state = true, now, client.RolloutAgentApplying
		out = append(out, i)
		allowed--
	}
	return out
}

// Plan plans one step of a rollout: halt on too many failures; otherwise, while
// progressing, release the agents the unlocked waves let in, complete waves, and complete the
// rollout or unlock the next wave as the pauses allow.
func Plan(in Input) Step {
	st := in.State.clone()
	step := Step{State: st, Waves: map[uuid.UUID]int{}}
	if st.Status != client.RolloutProgressing && st.Status != client.RolloutWaiting {
		return step
	}
	a := analyze(in)
	if a.failures > st.FailuresAccepted+a.limit {
		st.Status = client.RolloutHalted
		st.Reason = fmt.Sprintf("%d agents failed, %d tolerated: %s", a.failures, st.FailuresAccepted+a.limit,
			strings.Join(a.failed, ", "))
		step.State, step.Events = st, append(step.Events, EventHalted)
		return step
	}
	if st.Status == client.RolloutWaiting {
		return step
	}
	last := len(a.waves) - 1
	for st.CurrentWave <= last && len(st.Waves) > last {
		for w := 0; w <= st.CurrentWave; w++ {
			for _, i := range a.release(w, in.Now) {
				step.Release = append(step.Release, a.members[i].ID)
				step.Waves[a.members[i].ID] = w
			}
		}
		for w := 0; w <= st.CurrentWave; w++ {
			if st.Waves[w].CompletedAt == nil && a.complete(w) {
				st.Waves[w].CompletedAt = ptr(in.Now)
				step.Events = append(step.Events, EventWaveCompleted)
			}
		}
		cw := st.CurrentWave
		done := st.Waves[cw].CompletedAt
		if done == nil {
			break
		}
		if cw == last {
			st.Status, st.FinishedAt, st.NextWaveAt = client.RolloutCompleted, ptr(in.Now), nil
			step.Events = append(step.Events, EventCompleted)
			break
		}
		// A wave without agents skips its pause, and so does the last wave with agents: no
		// agent is left to wait for it.
		if len(a.byWave[cw]) > 0 && a.agentsAfter(cw) {
			d, manual := a.waves[cw].pauseAfter()
			if manual {
				st.Status = client.RolloutWaiting
				break
			}
			if st.NextWaveAt == nil {
				st.NextWaveAt = ptr(done.Add(d))
			}
			if in.Now.Before(*st.NextWaveAt) {
				break
			}
		}
		unlock(&st, in.Now)
	}
	step.State = st
	return step
}

// unlock unlocks the wave after the current one.
func unlock(st *State, now time.Time) {
	st.CurrentWave++
	st.Waves[st.CurrentWave].UnlockedAt = ptr(now)
	st.NextWaveAt = nil
}

// Act applies an operator's action to the rollout, then plans a step from there.
func Act(in Input, action string) (Step, error) {
	st := in.State.clone()
	var events []Event
	switch action {
	case ActionPromote:
		if st.Status != client.RolloutProgressing && st.Status != client.RolloutWaiting {
			return Step{}, ErrInvalidState
		}
		st.Status = client.RolloutProgressing
		if st.CurrentWave >= len(st.Waves)-1 {
			st.Status, st.FinishedAt, st.NextWaveAt = client.RolloutCompleted, ptr(in.Now), nil
			events = append(events, EventCompleted)
		} else {
			unlock(&st, in.Now)
		}
	case ActionPause:
		if st.Status != client.RolloutProgressing && st.Status != client.RolloutWaiting {
			return Step{}, ErrInvalidState
		}
		st.Status = client.RolloutPaused
	case ActionResume:
		switch st.Status {
		case client.RolloutPaused:
		case client.RolloutHalted:
			st.FailuresAccepted, st.Reason = analyze(in).failures, ""
		default:
			return Step{}, ErrInvalidState
		}
		st.Status = client.RolloutProgressing
	case ActionAbort:
		if !Active(st.Status) {
			return Step{}, ErrInvalidState
		}
		st.Status, st.FinishedAt, st.NextWaveAt = client.RolloutAborted, ptr(in.Now), nil
		events = append(events, EventAborted)
	default:
		return Step{}, ErrUnknownAction
	}
	next := in
	next.State = st
	step := Plan(next)
	step.Events = append(events, step.Events...)
	return step, nil
}

func ptr[T any](v T) *T { return &v }
