package targetstate

import (
	"fmt"
	"testing"
	"time"
	"unique"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/internal/window"
)

func obj(seq int64) Object {
	id := uuid.New()
	return Object{JSON: unique.Make(`{"id":"` + id.String() + `"}`), ID: id, Seq: seq}
}

func released(ids ...uuid.UUID) map[uuid.UUID]struct{} {
	m := map[uuid.UUID]struct{}{}
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

func served(c Composition) []uuid.UUID {
	out := make([]uuid.UUID, len(c.Objects))
	for i, o := range c.Objects {
		out[i] = o.ID
	}
	return out
}

// TestResolveWalksRollouts: an agent receives the newest object whose rollout released it,
// else the newest object every agent receives; nothing when no step serves it.
func TestResolveWalksRollouts(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	v3, v2, v1 := obj(3), obj(2), obj(1)
	view := View{
		{Object: v3, Rollout: uuid.New(), Released: released(a)},
		{Object: v2, Rollout: uuid.New(), Released: released(a, b)}, // superseded, b kept it
		{Object: v1},
	}
	for _, tc := range []struct {
		agent uuid.UUID
		want  int
	}{{a, 0}, {b, 1}, {c, 2}} {
		if got := view.Resolve(tc.agent); got != tc.want {
			t.Errorf("Resolve = %d, want %d", got, tc.want)
		}
	}
	first := View{{Object: v1, Rollout: uuid.New(), Released: released(a)}}
	if got := first.Resolve(b); got != -1 {
		t.Errorf("first object under a rollout: unreleased agent got step %d, want none", got)
	}
}

// TestComposeRolloutHolds: what an unreleased agent receives and the hold it is told of.
func TestComposeRolloutHolds(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	s1, s2 := uuid.New(), uuid.New()
	next := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rollout := uuid.New()
	new1, old1, only2 := obj(5), obj(4), obj(3)
	views := map[uuid.UUID]View{
		s1: {{Object: new1, Rollout: rollout, NextWaveAt: &next, Released: released(a)}, {Object: old1}},
		s2: {{Object: only2}},
	}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ca := Compose(a, []uuid.UUID{s1, s2}, views, Windows{}, nil, now)
	if got := served(ca); len(got) != 2 || got[0] != new1.ID || got[1] != only2.ID || len(ca.Holds) != 0 {
		t.Fatalf("released agent: served %v holds %v, want [new, s2] and no hold", got, ca.Holds)
	}
	cb := Compose(b, []uuid.UUID{s1, s2}, views, Windows{}, nil, now)
	if got := served(cb); len(got) != 2 || got[0] != old1.ID || got[1] != only2.ID {
		t.Fatalf("unreleased agent served %v, want [old, s2]", got)
	}
	if len(cb.Holds) != 1 {
		t.Fatalf("holds = %+v, want one", cb.Holds)
	}
	h := cb.Holds[0]
	if h.Stack != s1 || h.Object != new1.ID || h.Serving == nil || *h.Serving != old1.ID || h.Reason != "rollout" ||
		h.Rollout != rollout || !h.Until.Equal(next) {
		t.Errorf("hold = %+v", h)
	}
	if !cb.Expires.IsZero() {
		t.Errorf("without windows an answer never expires, got %v", cb.Expires)
	}
}

// TestComposeWindowHolds: a deny window keeps serving an agent what it has; an urgent object
// and the object it already has pass; a stack it never applied waits.
func TestComposeWindowHolds(t *testing.T) {
	agent := uuid.New()
	s1, s2, s3 := uuid.New(), uuid.New(), uuid.New()
	deny, err := window.New(uuid.New(), "freeze", "0 0 * * *", 10*time.Hour, "UTC", "deny", window.Selector{Labels: []string{"env=prod"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	windows := Windows{Set: window.Set{deny}, Memo: window.NewMemo()}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	had, newer, urgent, fresh := obj(1), obj(2), obj(3), obj(4)
	urgent.Urgent = true
	views := map[uuid.UUID]View{s1: {{Object: newer}}, s2: {{Object: urgent}}, s3: {{Object: fresh}}}
	facts := &Facts{Labels: []string{"env=prod"}, Has: map[uuid.UUID]Object{s1: had, s2: had}}
	c := Compose(agent, []uuid.UUID{s1, s2, s3}, views, windows, facts, now)
	if got := served(c); len(got) != 2 || got[0] != urgent.ID || got[1] != had.ID {
		t.Fatalf("served %v, want [urgent, had]", got)
	}
	if len(c.Holds) != 2 {
		t.Fatalf("holds = %+v, want s1 and s3", c.Holds)
	}
	for _, h := range c.Holds {
		if h.Reason != "window" || h.Window != deny || !h.Until.Equal(now.Add(time.Hour)) {
			t.Errorf("hold %+v: want reason window by the freeze until 10:00", h)
		}
		switch h.Stack {
		case s1:
			if h.Serving == nil || *h.Serving != had.ID || h.Object != newer.ID {
				t.Errorf("s1 hold = %+v", h)
			}
		case s3:
			if h.Serving != nil || h.Object != fresh.ID {
				t.Errorf("s3 hold = %+v", h)
			}
		default:
			t.Errorf("unexpected hold %+v", h)
		}
	}
	if !c.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("expires = %v, want the window's closing at 10:00", c.Expires)
	}
	other := Compose(agent, []uuid.UUID{s1}, views, windows, &Facts{Labels: []string{"env=dev"}}, now)
	if got := served(other); len(got) != 1 || got[0] != newer.ID || len(other.Holds) != 0 {
		t.Errorf("an agent the window does not select: served %v holds %v", got, other.Holds)
	}
}

// TestAnswerExpiresAtWindowChange: a kept answer that an apply window's opening or closing
// changes is not served past that moment.
func TestAnswerExpiresAtWindowChange(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	c := New(Options{Schema: "public", MaxEntries: 10, Listening: func() bool { return true }, Clock: func() time.Time { return now }})
	k := Key{Agent: uuid.New()}
	a := ComposedAnswer(nil, Composition{Expires: now.Add(time.Hour)})
	c.Put(c.Begin(), k, a)
	if _, ok := c.Get(k); !ok {
		t.Fatal("answer not kept")
	}
	now = now.Add(time.Hour)
	if _, ok := c.Get(k); ok {
		t.Fatal("answer served past its expiry")
	}
}

// BenchmarkCompose is the cost of resolving one agent's answer on a cache miss: 20 stacks,
// each with a rollout under way that released 5,000 of 10,000 agents over the previous
// object, and three apply windows (one deny window holding the agent).
func BenchmarkCompose(b *testing.B) {
	agents := make([]uuid.UUID, 10000)
	for i := range agents {
		agents[i] = uuid.New()
	}
	stacks := make([]uuid.UUID, 20)
	views := map[uuid.UUID]View{}
	has := map[uuid.UUID]Object{}
	for i := range stacks {
		stacks[i] = uuid.New()
		old, cur := obj(int64(2*i+1)), obj(int64(2*i+2))
		views[stacks[i]] = View{{Object: cur, Rollout: uuid.New(), Released: released(agents[:5000]...)}, {Object: old}}
		has[stacks[i]] = old
	}
	windows := Windows{Memo: window.NewMemo()}
	for i, kind := range []string{"allow", "deny", "deny"} {
		w, err := window.New(uuid.New(), fmt.Sprint("w", i), "0 8 * * *", 4*time.Hour, "Europe/Oslo", kind,
			window.Selector{Labels: []string{"env=prod"}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		windows.Set = append(windows.Set, w)
	}
	facts := &Facts{Labels: []string{"env=prod"}, Has: has}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := Compose(agents[i%len(agents)], stacks, views, windows, facts, now)
		if len(c.Objects) != len(stacks) {
			b.Fatalf("%d objects", len(c.Objects))
		}
	}
}
