package rollouts

import (
	"time"

	"github.com/brokkr/brokkr/client"
)

// Progress is a rollout's progress as the API shows it.
type Progress struct {
	Waves    []client.RolloutWaveStatus
	Agents   []client.RolloutAgent // by wave, then agent name
	Failures int                   // agents failed now
	// FailureLimit is how many failed agents the rollout tolerates before it halts: the
	// failures accepted by resumes plus the policy's threshold.
	FailureLimit int
}

// View returns the progress of the rollout in. Timestamps are in UTC.
func View(in Input) Progress {
	a := analyze(in)
	p := Progress{Failures: a.failures, FailureLimit: in.State.FailuresAccepted + a.limit,
		Waves: make([]client.RolloutWaveStatus, len(a.waves)), Agents: []client.RolloutAgent{}}
	for w, s := range a.waves {
		ws := client.RolloutWaveStatus{Index: w, Name: s.name, Selector: s.selector, Gate: s.gate, Pause: s.pause,
			MaxUnavailable: s.maxUnavailable, State: client.WavePending, Agents: len(a.byWave[w])}
		if w < len(in.State.Waves) {
			ws.UnlockedAt, ws.CompletedAt = utcp(in.State.Waves[w].UnlockedAt), utcp(in.State.Waves[w].CompletedAt)
		}
		switch {
		case ws.CompletedAt != nil:
			ws.State = client.WaveComplete
		case ws.UnlockedAt != nil:
			ws.State = client.WaveInProgress
		}
		for _, i := range a.byWave[w] {
			m := a.members[i]
			ra := client.RolloutAgent{AgentID: m.ID, AgentName: m.Name, Wave: w, State: m.state, Message: m.message}
			if m.released {
				ws.Released++
				ra.ReleasedAt = utcp(&m.at)
			}
			if m.applied {
				ws.Applied++
			}
			switch m.state {
			case client.RolloutAgentPassed:
				ws.Passed++
			case client.RolloutAgentFailed:
				ws.Failed++
			}
			p.Agents = append(p.Agents, ra)
		}
		p.Waves[w] = ws
	}
	return p
}

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
