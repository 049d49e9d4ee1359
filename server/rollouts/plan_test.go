package rollouts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// sim is a rollout driven through Plan and Act as the controller would drive it.
type sim struct {
	t  *testing.T
	in Input
	ev []Event
}

func newSim(t *testing.T, p client.RolloutPolicy, agents ...Agent) *sim {
	waves := make([]WaveState, len(p.Waves)+1)
	waves[0].UnlockedAt = ptr(t0)
	return &sim{t: t, in: Input{Policy: p, Agents: agents, Now: t0,
		State:    State{Status: client.RolloutProgressing, Waves: waves},
		Released: map[uuid.UUID]Release{}, Outcomes: map[uuid.UUID]Outcome{}}}
}

func (s *sim) take(step Step) {
	for _, id := range step.Release {
		s.in.Released[id] = Release{Wave: step.Waves[id], At: s.in.Now}
	}
	s.in.State = step.State
	s.ev = append(s.ev, step.Events...)
}

func (s *sim) step() []string {
	s.t.Helper()
	step := Plan(s.in)
	s.take(step)
	return s.names(step.Release)
}

func (s *sim) act(action string) error {
	step, err := Act(s.in, action)
	if err == nil {
		s.take(step)
	}
	return err
}

func (s *sim) names(ids []uuid.UUID) []string {
	var out []string
	for _, id := range ids {
		for _, a := range s.in.Agents {
			if a.ID == id {
				out = append(out, a.Name)
			}
		}
	}
	return out
}

func (s *sim) report(name, deploy, health string) {
	for _, a := range s.in.Agents {
		if a.Name == name {
			s.in.Outcomes[a.ID] = Outcome{Deploy: deploy, Health: health, Message: name + " says " + deploy}
			return
		}
	}
	s.t.Fatalf("no agent %s", name)
}

func (s *sim) released() []string {
	var out []string
	for _, a := range s.in.Agents {
		if _, ok := s.in.Released[a.ID]; ok {
			out = append(out, a.Name)
		}
	}
	slices.Sort(out)
	return out
}

func agent(name string, labels ...string) Agent {
	return Agent{ID: uuid.NewSHA1(uuid.Nil, []byte(name)), Name: name, Labels: labels, Annotations: map[string]string{}}
}

func wave(name, label string) client.RolloutWave {
	return client.RolloutWave{Name: name, Selector: client.Selector{Labels: []string{label}}}
}

func wantNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func TestPlanWavesInOrderWithPauses(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{wave("canary", "canary"), wave("early", "early")}, Pause: "10m"}
	p.Waves[1].Pause = client.PauseManual
	s := newSim(t, p, agent("c2", "canary"), agent("c1", "canary"), agent("e1", "early"), agent("r1"), agent("r2", "other"))

	wantNames(t, "first step releases", s.step(), "c1", "c2")
	wantNames(t, "nothing more while canary applies", s.step())
	s.report("c1", "SUCCESS", "")
	s.report("c2", "SUCCESS", "")
	s.step()
	if w := s.in.State.Waves[0].CompletedAt; w == nil || !w.Equal(t0) {
		t.Fatalf("canary completed at %v", w)
	}
	if s.in.State.CurrentWave != 0 || s.in.State.NextWaveAt == nil || !s.in.State.NextWaveAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("after canary: wave %d, next %v", s.in.State.CurrentWave, s.in.State.NextWaveAt)
	}
	s.in.Now = t0.Add(9 * time.Minute)
	wantNames(t, "released before the pause ends", s.step())
	s.in.Now = t0.Add(10 * time.Minute)
	wantNames(t, "released when the pause ends", s.step(), "e1")
	s.report("e1", "SUCCESS", "")
	s.step()
	if s.in.State.Status != client.RolloutWaiting || s.in.State.CurrentWave != 1 {
		t.Fatalf("manual pause: status %s wave %d", s.in.State.Status, s.in.State.CurrentWave)
	}
	s.in.Now = t0.Add(time.Hour)
	wantNames(t, "released while waiting", s.step())
	if err := s.act(ActionPromote); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "remaining released by promote", s.released(), "c1", "c2", "e1", "r1", "r2")
	s.report("r1", "SUCCESS", "")
	s.report("r2", "success", "")
	s.step()
	if s.in.State.Status != client.RolloutCompleted || s.in.State.FinishedAt == nil {
		t.Fatalf("status %s finished %v", s.in.State.Status, s.in.State.FinishedAt)
	}
	want := []Event{EventWaveCompleted, EventWaveCompleted, EventWaveCompleted, EventCompleted}
	if !slices.Equal(s.ev, want) {
		t.Fatalf("events %v, want %v", s.ev, want)
	}
	v := View(s.in)
	for _, w := range v.Waves {
		if w.State != client.WaveComplete || w.Passed != w.Agents || w.Released != w.Agents {
			t.Fatalf("wave %+v", w)
		}
	}
}

func TestPlanMaxUnavailableAndHealthyGate(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{wave("w", "x")}, Gate: client.GateHealthy}
	p.Waves[0].MaxUnavailable = "2"
	s := newSim(t, p, agent("a", "x"), agent("b", "x"), agent("c", "x"), agent("d", "x"), agent("e", "x"))
	wantNames(t, "first batch", s.step(), "a", "b")
	s.report("a", "SUCCESS", "degraded")
	wantNames(t, "applied but not healthy keeps its slot", s.step())
	s.report("a", "SUCCESS", "healthy")
	wantNames(t, "healthy frees a slot", s.step(), "c")
	s.report("b", "SUCCESS", "healthy")
	s.report("c", "SUCCESS", "healthy")
	wantNames(t, "two slots", s.step(), "d", "e")
	v := View(s.in)
	if v.Waves[0].Released != 5 || v.Waves[0].Passed != 3 || v.Waves[0].Applied != 3 {
		t.Fatalf("wave %+v", v.Waves[0])
	}
	// Percentages resolve against the wave's agents, at least one.
	p.Waves[0].MaxUnavailable = "10%"
	s = newSim(t, p, agent("a", "x"), agent("b", "x"), agent("c", "x"))
	wantNames(t, "10% of 3", s.step(), "a")
}

func TestPlanHaltsResumesAndAborts(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{wave("w", "x")}, FailureThreshold: "1", Gate: client.GateHealthy}
	s := newSim(t, p, agent("a", "x"), agent("b", "x"), agent("c", "x"), agent("d"), agent("e"))
	s.step()
	s.report("a", "FAILURE", "")
	s.step()
	if s.in.State.Status != client.RolloutProgressing {
		t.Fatalf("one failure within the threshold: %s", s.in.State.Status)
	}
	s.report("b", "SUCCESS", "failing")
	s.step()
	if s.in.State.Status != client.RolloutHalted || !strings.Contains(s.in.State.Reason, "a, b") {
		t.Fatalf("status %s reason %q", s.in.State.Status, s.in.State.Reason)
	}
	if err := s.act(ActionPromote); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("promote while halted: %v", err)
	}
	if err := s.act(ActionResume); err != nil {
		t.Fatal(err)
	}
	if s.in.State.FailuresAccepted != 2 || s.in.State.Status != client.RolloutProgressing {
		t.Fatalf("resumed: %+v", s.in.State)
	}
	s.report("c", "SUCCESS", "healthy")
	wantNames(t, "failed agents count as done", s.step(), "d", "e")
	s.report("d", "FAILURE", "")
	s.step()
	if s.in.State.Status != client.RolloutProgressing {
		t.Fatalf("one new failure within the threshold: %s %s", s.in.State.Status, s.in.State.Reason)
	}
	if err := s.act(ActionAbort); err != nil {
		t.Fatal(err)
	}
	if s.in.State.Status != client.RolloutAborted || s.ev[len(s.ev)-1] != EventAborted {
		t.Fatalf("abort: %s %v", s.in.State.Status, s.ev)
	}
	for _, a := range []string{ActionPromote, ActionPause, ActionResume, ActionAbort} {
		if err := s.act(a); !errors.Is(err, ErrInvalidState) {
			t.Fatalf("%s after abort: %v", a, err)
		}
	}
}

func TestPlanEmptyWavesSkipTheirPause(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{wave("none", "nobody"), wave("also-none", "nobody2")}, Pause: client.PauseManual}
	s := newSim(t, p, agent("a"))
	wantNames(t, "remaining released at once", s.step(), "a")
	if s.in.State.CurrentWave != 2 || s.in.State.Status != client.RolloutProgressing {
		t.Fatalf("state %+v", s.in.State)
	}
	// A rollout of a stack without agents completes at once.
	s = newSim(t, p)
	s.step()
	if s.in.State.Status != client.RolloutCompleted {
		t.Fatalf("no agents: %s", s.in.State.Status)
	}
}

func TestPlanPausedAndHaltedReleaseNothing(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{wave("w", "x")}}
	s := newSim(t, p, agent("a", "x"), agent("b"))
	if err := s.act(ActionPause); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "paused", s.step())
	if err := s.act(ActionPause); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("pause twice: %v", err)
	}
	if err := s.act(ActionResume); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "resumed", s.released(), "a")
	if _, err := Act(s.in, "rewind"); !errors.Is(err, ErrUnknownAction) {
		t.Fatalf("unknown action: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := func() client.RolloutPolicy {
		return client.RolloutPolicy{Waves: []client.RolloutWave{wave("a", "x")}}
	}
	if err := Validate(ok()); err != nil {
		t.Fatal(err)
	}
	many := ok()
	for i := range 20 {
		many.Waves = append(many.Waves, wave(fmt.Sprint("w", i), "x"))
	}
	cases := map[string]func(p *client.RolloutPolicy){
		"no waves":           func(p *client.RolloutPolicy) { p.Waves = nil },
		"21 waves":           func(p *client.RolloutPolicy) { *p = many },
		"empty name":         func(p *client.RolloutPolicy) { p.Waves[0].Name = "" },
		"remaining":          func(p *client.RolloutPolicy) { p.Waves[0].Name = "remaining" },
		"duplicate":          func(p *client.RolloutPolicy) { p.Waves = append(p.Waves, wave("a", "y")) },
		"empty selector":     func(p *client.RolloutPolicy) { p.Waves[0].Selector = client.Selector{} },
		"gate":               func(p *client.RolloutPolicy) { p.Gate = "ready" },
		"wave gate":          func(p *client.RolloutPolicy) { p.Waves[0].Gate = "ready" },
		"negative pause":     func(p *client.RolloutPolicy) { p.Pause = "-1s" },
		"pause":              func(p *client.RolloutPolicy) { p.Waves[0].Pause = "soon" },
		"max_unavailable 0":  func(p *client.RolloutPolicy) { p.Waves[0].MaxUnavailable = "0" },
		"max_unavailable 0%": func(p *client.RolloutPolicy) { p.Waves[0].MaxUnavailable = "0%" },
		"threshold 101%":     func(p *client.RolloutPolicy) { p.FailureThreshold = "101%" },
		"threshold -1":       func(p *client.RolloutPolicy) { p.FailureThreshold = "-1" },
		"long name":          func(p *client.RolloutPolicy) { p.Waves[0].Name = strings.Repeat("n", 65) },
		"long label":         func(p *client.RolloutPolicy) { p.Waves[0].Selector.Labels = []string{strings.Repeat("l", 65)} },
		"long annotation": func(p *client.RolloutPolicy) {
			p.Waves[0].Selector.Annotations = map[string]string{"k": strings.Repeat("v", 65)}
		},
		"33 labels": func(p *client.RolloutPolicy) {
			for i := range 33 {
				p.Waves[0].Selector.Labels = append(p.Waves[0].Selector.Labels, fmt.Sprint("l", i))
			}
		},
	}
	for name, change := range cases {
		p := ok()
		change(&p)
		if err := Validate(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	good := ok()
	good.Pause, good.FailureThreshold, good.Waves[0].MaxUnavailable = "manual", "100%", "1%"
	if err := Validate(good); err != nil {
		t.Fatal(err)
	}
}

func TestWaveOf(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{
		{Name: "eu-canary", Selector: client.Selector{Labels: []string{"canary"}, Annotations: map[string]string{"region": "eu"}}},
		{Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}},
		{Name: "us", Selector: client.Selector{Annotations: map[string]string{"region": "us"}}},
	}}
	for _, c := range []struct {
		labels []string
		ann    map[string]string
		want   int
	}{
		{[]string{"canary", "x"}, map[string]string{"region": "eu"}, 0},
		{[]string{"canary"}, map[string]string{"region": "us"}, 1},
		{nil, map[string]string{"region": "us"}, 2},
		{nil, map[string]string{"region": "US"}, 3},
		{[]string{"x"}, nil, 3},
	} {
		if got := WaveOf(p, c.labels, c.ann); got != c.want {
			t.Errorf("WaveOf(%v, %v) = %d, want %d", c.labels, c.ann, got, c.want)
		}
	}
}

// TestPlanNoPauseAfterTheLastWaveWithAgents: when every agent is in the named waves, the last
// of them completes the rollout instead of pausing before the empty implicit wave.
func TestPlanNoPauseAfterTheLastWaveWithAgents(t *testing.T) {
	p := client.RolloutPolicy{Waves: []client.RolloutWave{wave("dev", "env=dev"), wave("prod", "env=prod")}, Pause: client.PauseManual}
	s := newSim(t, p, agent("d", "env=dev"), agent("p", "env=prod"))
	wantNames(t, "wave dev", s.step(), "d")
	s.report("d", "SUCCESS", "")
	s.step()
	if s.in.State.Status != client.RolloutWaiting {
		t.Fatalf("after dev: %s, want waiting (a wave with agents follows)", s.in.State.Status)
	}
	if err := s.act(ActionPromote); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "released", s.released(), "d", "p")
	s.report("p", "SUCCESS", "")
	s.step()
	if s.in.State.Status != client.RolloutCompleted {
		t.Fatalf("after prod: %s, want completed (only the empty implicit wave is left)", s.in.State.Status)
	}
}
