package rollouts

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func id(n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("%08x-5e1d-4c0a-9b7e-3f2a1c0d%04x", uint32(n*0x1111111), n))
}

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

var (
	stWeb   = client.Stack{ID: id(1), Name: "web", CreatedAt: now.Add(-74 * time.Hour)}
	stAPI   = client.Stack{ID: id(2), Name: "api", CreatedAt: now.Add(-5 * time.Hour)}
	stBatch = client.Stack{ID: id(3), Name: "batch-jobs", CreatedAt: now.Add(-40 * time.Minute)}
	stOld   = client.Stack{ID: id(4), Name: "legacy", CreatedAt: now.Add(-40 * 24 * time.Hour)}
	stNone  = client.Stack{ID: id(5), Name: "no-policy", CreatedAt: now.Add(-40 * 24 * time.Hour)}
)

// webRollout is a rollout of three waves: canary done, eu under way with a failure, the
// remaining agents waiting.
func webRollout() client.Rollout {
	prev := id(40)
	return client.Rollout{
		ID: id(30), StackID: stWeb.ID, DeploymentObjectID: id(41), PreviousObjectID: &prev,
		Status: client.RolloutProgressing, CurrentWave: 1, Failures: 1, FailureLimit: 2,
		Waves: []client.RolloutWaveStatus{
			{Index: 0, Name: "canary", Gate: "healthy", Pause: "10m", State: client.WaveComplete, Agents: 2, Released: 2, Applied: 2, Passed: 2,
				UnlockedAt: at(-30 * time.Minute), CompletedAt: at(-18 * time.Minute)},
			{Index: 1, Name: "eu", Gate: "healthy", Pause: "manual", MaxUnavailable: "2", State: client.WaveInProgress, Agents: 6, Released: 4, Applied: 2, Passed: 1, Failed: 1,
				UnlockedAt: at(-8 * time.Minute)},
			{Index: 2, Name: client.ImplicitWaveName, Gate: "healthy", State: client.WavePending, Agents: 4},
		},
		Agents: []client.RolloutAgent{
			{AgentID: id(101), AgentName: "eu-3", Wave: 1, State: client.RolloutAgentFailed, ReleasedAt: at(-8 * time.Minute),
				Message: "apply Deployment web/web: admission webhook denied the request\nsecond line"},
			{AgentID: id(102), AgentName: "canary-b", Wave: 0, State: client.RolloutAgentPassed, ReleasedAt: at(-30 * time.Minute)},
			{AgentID: id(103), AgentName: "canary-a", Wave: 0, State: client.RolloutAgentPassed, ReleasedAt: at(-30 * time.Minute)},
			{AgentID: id(104), AgentName: "eu-1", Wave: 1, State: client.RolloutAgentPassed, ReleasedAt: at(-8 * time.Minute)},
			{AgentID: id(105), AgentName: "eu-2", Wave: 1, State: client.RolloutAgentApplied, ReleasedAt: at(-8 * time.Minute)},
			{AgentID: id(106), AgentName: "eu-4", Wave: 1, State: client.RolloutAgentApplying, ReleasedAt: at(-2 * time.Minute)},
			{AgentID: id(107), AgentName: "eu-5", Wave: 1, State: client.RolloutAgentWaiting},
			{AgentID: id(108), AgentName: "eu-6", Wave: 1, State: client.RolloutAgentWaiting},
			{AgentID: id(109), AgentName: "us-1", Wave: 2, State: client.RolloutAgentWaiting},
		},
		CreatedAt: now.Add(-30 * time.Minute), UpdatedAt: now.Add(-2 * time.Minute),
	}
}

func halted() client.Rollout {
	r := webRollout()
	r.Status, r.Failures, r.FailureLimit = client.RolloutHalted, 3, 2
	r.Reason = "3 agents failed (limit 2): eu-3, eu-4, eu-5"
	return r
}

func waiting() client.Rollout {
	r := webRollout()
	r.Status, r.CurrentWave, r.Failures = client.RolloutWaiting, 0, 0
	r.Waves[1].State, r.Waves[1].Released, r.Waves[1].Passed, r.Waves[1].Failed, r.Waves[1].UnlockedAt = client.WavePending, 0, 0, 0, nil
	return r
}

func pausing() client.Rollout {
	r := webRollout()
	r.NextWaveAt = at(7 * time.Minute)
	return r
}

func completed(stack client.Stack, ago time.Duration) client.Rollout {
	r := webRollout()
	r.ID, r.StackID = id(int(stack.ID[15])+60), stack.ID
	r.Status, r.CurrentWave, r.Failures = client.RolloutCompleted, 2, 0
	for i := range r.Waves {
		w := &r.Waves[i]
		w.State, w.Released, w.Passed, w.Failed, w.Applied = client.WaveComplete, w.Agents, w.Agents, 0, w.Agents
	}
	r.Agents = nil
	r.FinishedAt, r.UpdatedAt = at(-ago), now.Add(-ago)
	return r
}

func newDetail(t *testing.T, r *client.Rollout) *Detail {
	t.Helper()
	d, cmd := Open(viewtest.Env(now, time.Second), "Rollouts", stWeb)
	if cmd == nil {
		t.Fatal("opening started no load")
	}
	if r != nil {
		cp := *r
		cp.Agents = append([]client.RolloutAgent(nil), r.Agents...)
		r = &cp
	}
	if _, ok := d.Update(RolloutLoadedMsg{Session: d.session, Tag: d.tag, Rollout: r}); !ok {
		t.Fatal("the rollout view did not take its answer")
	}
	return d
}

// detailView wraps a Detail as a view, for the helpers of viewtest.
type detailView struct{ d *Detail }

func (w detailView) Title() string { return "Rollouts" }
func (w detailView) Init() tea.Cmd { return nil }
func (w detailView) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		return w, w.d.Key(k)
	}
	cmd, _ := w.d.Update(msg)
	return w, cmd
}
func (w detailView) Render(width, height int) string { return w.d.Render(width, height) }
func (w detailView) Keys() []key.Binding             { return w.d.Keys() }
func (w detailView) Capturing() bool                 { return false }

func loadedList(t *testing.T) *Model {
	t.Helper()
	v := New(viewtest.Env(now, time.Second)).(*Model)
	v.Init()
	web, h := webRollout(), halted()
	h.ID, h.StackID = id(31), stAPI.ID
	c1, c2 := completed(stBatch, 3*time.Hour), completed(stOld, 9*24*time.Hour)
	web.Agents, h.Agents = nil, nil
	v.Update(ListLoadedMsg{Tag: v.tag, Stacks: []client.Stack{stWeb, stAPI, stBatch, stOld, stNone, {ID: id(6), Name: "unchecked"}}, Probes: map[uuid.UUID]Probe{
		stWeb.ID: {Rollout: &web, At: now}, stAPI.ID: {Rollout: &h, At: now}, stBatch.ID: {Rollout: &c1, At: now},
		stOld.ID: {Rollout: &c2, At: now}, stNone.ID: {At: now},
	}})
	return v
}

func TestGolden(t *testing.T) {
	r, h, w, p := webRollout(), halted(), waiting(), pausing()
	for _, c := range []struct {
		name    string
		rollout *client.Rollout
		keys    []string
		w, h    int
	}{
		{"detail_80x24", &r, nil, 80, 24},
		{"detail_120x30", &r, []string{"j", "j", "j"}, 120, 30},
		{"detail_small", &r, nil, 80, 8},
		{"halted", &h, nil, 100, 16},
		{"waiting", &w, nil, 100, 16},
		{"timed_pause", &p, nil, 100, 8},
		{"none", nil, nil, 80, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDetail(t, c.rollout)
			for _, k := range c.keys {
				d.Key(viewtest.Key(k))
			}
			golden.RequireEqual(t, viewtest.Render(t, detailView{d}, c.w, c.h))
		})
	}
	t.Run("loading", func(t *testing.T) {
		d, _ := Open(viewtest.Env(now, time.Second), "Rollouts", stWeb)
		golden.RequireEqual(t, viewtest.Render(t, detailView{d}, 80, 4))
	})
	t.Run("list_80x24", func(t *testing.T) {
		golden.RequireEqual(t, viewtest.Render(t, loadedList(t), 80, 24))
	})
	t.Run("list_120x12", func(t *testing.T) {
		v := loadedList(t)
		viewtest.Press(v, "j")
		golden.RequireEqual(t, viewtest.Render(t, v, 120, 12))
	})
}

func TestBar(t *testing.T) {
	s := ui.NewStyles(true, true)
	for _, c := range []struct {
		counts WaveCounts
		width  int
		want   string
	}{
		{WaveCounts{Passed: 1, Failed: 1, Applying: 2, Waiting: 2}, 12, "██xx▒▒▒▒░░░░"},
		{WaveCounts{Passed: 1, Failed: 1, Applying: 2, Waiting: 2}, 16, "███xxx▒▒▒▒▒░░░░░"},
		{WaveCounts{Passed: 998, Failed: 1, Waiting: 1}, 10, "████████x░"},
		{WaveCounts{Waiting: 3}, 5, "░░░░░"},
		{WaveCounts{}, 5, ""},
	} {
		if got := ui.Plain(Bar(s, c.counts, c.width)); got != c.want {
			t.Errorf("Bar(%+v, %d) = %q, want %q", c.counts, c.width, got, c.want)
		}
	}
	if got := Counts(client.RolloutWaveStatus{Agents: 6, Released: 4, Applied: 2, Passed: 1, Failed: 1}); got != (WaveCounts{Passed: 1, Failed: 1, Applying: 2, Waiting: 2, Total: 6}) {
		t.Errorf("Counts = %+v", got)
	}
}

func TestHoldText(t *testing.T) {
	r := webRollout()
	wave := func(i int) *int { return &i }
	until := now.Add(6 * time.Hour)
	tomorrow := now.Add(30 * time.Hour)
	holds := []client.Hold{
		{AgentID: id(109), Reason: client.HoldWindow, WindowName: "freeze", Until: &until},
		{AgentID: id(107), Reason: client.HoldRollout, Wave: wave(1)},
		{AgentID: id(108), Reason: client.HoldRollout, Wave: wave(1)},
		{AgentID: id(110), Reason: client.HoldRollout, Wave: wave(2)},
		{AgentID: id(111), Reason: client.HoldWindow, WindowName: "weekend", Until: &tomorrow},
	}
	sum := SummarizeHolds(holds)
	if sum.Agents != 5 || len(sum.Groups) != 4 {
		t.Fatalf("summary %+v", sum)
	}
	want := "held 5: rollout wave eu ×2, rollout wave remaining ×1, window freeze until 18:00 ×1, window weekend until Nov 29 18:00 ×1"
	if got := HoldText(sum, &r, now); got != want {
		t.Errorf("HoldText =\n%q, want\n%q", got, want)
	}
	// Without the rollout the waves go by number; nothing held says nothing.
	if got := HoldText(SummarizeHolds(holds[1:2]), nil, now); got != "held 1: rollout wave #2 ×1" {
		t.Errorf("HoldText without rollout = %q", got)
	}
	if got := HoldText(SummarizeHolds(nil), &r, now); got != "" {
		t.Errorf("HoldText of nothing = %q", got)
	}
}

func TestActionKeys(t *testing.T) {
	keysOf := func(d *Detail) string { return viewtest.HelpKeys(detailView{d}) }
	for _, c := range []struct {
		r    client.Rollout
		keys string
	}{
		{webRollout(), "P p x ↑/k ↓/j r"},
		{waiting(), "P p x ↑/k ↓/j r"},
		{halted(), "u x ↑/k ↓/j r"},
		{completed(stWeb, time.Hour), "↑/k ↓/j r"},
	} {
		if got := keysOf(newDetail(t, &c.r)); got != c.keys {
			t.Errorf("%s: keys %q, want %q", c.r.Status, got, c.keys)
		}
	}

	// An action the status rules out is refused without a request; so is any action
	// before the rollout is known.
	c := completed(stWeb, time.Hour)
	d := newDetail(t, &c)
	msgs := viewtest.Messages(d.Key(viewtest.Key("P")))
	if len(msgs) != 1 || msgs[0] != (ui.FlashMsg{Text: "promote: the rollout is completed", Error: true}) {
		t.Fatalf("promote on a completed rollout: %+v", msgs)
	}
	none := newDetail(t, nil)
	if msgs := viewtest.Messages(none.Key(viewtest.Key("p"))); len(msgs) != 1 || msgs[0] != (ui.FlashMsg{Text: "pause: web has no rollout", Error: true}) {
		t.Fatalf("pause without a rollout: %+v", msgs)
	}

	// Abort asks first; the request goes only on yes. Without a broker it fails, and says so.
	r := webRollout()
	d = newDetail(t, &r)
	msgs = viewtest.Messages(d.Key(viewtest.Key("x")))
	conf, ok := msgs[0].(ui.ConfirmMsg)
	if len(msgs) != 1 || !ok || !strings.HasPrefix(conf.Prompt, "Abort the rollout of web?") {
		t.Fatalf("x: %+v", msgs)
	}
	drv := &viewtest.Driver{T: t, View: detailView{d}}
	drv.Run(conf.On)
	if f := drv.LastFlash(); !f.Error || f.Text != "abort: "+ui.ErrNoClient.Error() {
		t.Fatalf("abort without a broker flashed %+v", f)
	}

	// While an action waits for the broker, another is refused.
	cmd := d.Key(viewtest.Key("P"))
	if cmd == nil || d.busy != ActionPromote {
		t.Fatal("promote sent nothing")
	}
	if msgs := viewtest.Messages(d.Key(viewtest.Key("p"))); len(msgs) != 1 || !strings.Contains(msgs[0].(ui.FlashMsg).Text, "waiting for the broker to promote") {
		t.Fatalf("pause during promote: %+v", msgs)
	}
}

func TestActionAnswers(t *testing.T) {
	r := webRollout()
	d := newDetail(t, &r)
	d.busy = ActionPromote
	after := webRollout()
	after.CurrentWave = 2
	cmd, ok := d.Update(ActionDoneMsg{Session: d.session, Action: ActionPromote, Rollout: after})
	if !ok || d.rollout.CurrentWave != 2 || d.busy != "" {
		t.Fatalf("promote answer not taken: %+v", d.rollout)
	}
	drv := &viewtest.Driver{T: t, View: detailView{d}, Feed: func(tea.Msg) bool { return false }}
	drv.Run(cmd)
	if f := drv.LastFlash(); f.Error || f.Text != "promoted: wave 3/3 remaining unlocked" {
		t.Errorf("flash %+v", f)
	}

	ro := &client.Error{StatusCode: 403, Code: "read_only", Message: "read-only key", Method: "POST", Path: "/x"}
	conflict := &client.Error{StatusCode: 409, Code: "invalid_rollout_state", Message: "the rollout is completed", Method: "POST", Path: "/x"}
	for err, want := range map[error]string{ro: "pause: " + ui.ReadOnlyText, conflict: "pause: the rollout is completed", errors.New("boom"): "pause: boom"} {
		cmd, _ := d.Update(ActionDoneMsg{Session: d.session, Action: ActionPause, Err: err})
		msgs := viewtest.Messages(cmd)
		if len(msgs) != 1 || msgs[0] != (ui.FlashMsg{Text: want, Error: true}) {
			t.Errorf("%v: %+v, want %q", err, msgs, want)
		}
	}
	if d.rollout.CurrentWave != 2 {
		t.Error("a refused action changed the rollout")
	}

	// Answers for another opening, or an older load, are dropped.
	old := webRollout()
	old.Status = client.RolloutAborted
	if _, ok := d.Update(RolloutLoadedMsg{Session: d.session + 1000, Tag: d.tag, Rollout: &old}); !ok || d.rollout.Status != client.RolloutProgressing {
		t.Fatal("an answer of another session was taken")
	}
	if _, ok := d.Update(RolloutLoadedMsg{Session: d.session, Tag: d.tag - 1, Rollout: &old}); !ok || d.rollout.Status != client.RolloutProgressing {
		t.Fatal("an older answer was taken")
	}
	var gone *Detail
	if cmd, ok := gone.Update(RolloutLoadedMsg{}); !ok || cmd != nil {
		t.Fatal("a closed rollout view took an answer")
	}
	if _, ok := d.Update(ui.ActivatedMsg{}); ok {
		t.Fatal("the rollout view claimed a message not its own")
	}

	// A refresh that fails keeps the data, with its age.
	d.Update(RolloutLoadedMsg{Session: d.session, Tag: d.tag, Err: errors.New("GET /stacks/x/rollout: connection refused")})
	out := viewtest.Render(t, detailView{d}, 100, 10)
	if !strings.Contains(out, "refresh failed: GET /stacks/x/rollout: connection refused · data from 0s ago") || !strings.Contains(out, "canary") {
		t.Fatalf("failed refresh:\n%s", out)
	}
}

func TestPolling(t *testing.T) {
	env := viewtest.Env(now, time.Millisecond)
	d, _ := Open(env, "Rollouts", stWeb)
	r := webRollout()
	tick, _ := d.Update(RolloutLoadedMsg{Session: d.session, Tag: d.tag, Rollout: &r})
	msgs := viewtest.Messages(tick)
	if len(msgs) != 1 {
		t.Fatalf("no tick after the load: %+v", msgs)
	}
	// Off screen the tick only ticks; on screen it loads again.
	env.SetActive("Stacks")
	again, _ := d.Update(msgs[0])
	if m := viewtest.Messages(again); len(m) != 1 || m[0] != msgs[0] {
		t.Fatalf("off screen: %+v", m)
	}
	env.SetActive("Rollouts")
	tag := d.tag
	load, _ := d.Update(msgs[0])
	if load == nil || d.tag == tag {
		t.Fatal("on screen the tick did not load")
	}
	if m := viewtest.Messages(load); len(m) != 2 || m[0].(RolloutLoadedMsg).Tag != d.tag {
		t.Fatalf("load: %+v", m)
	}
}

func TestList(t *testing.T) {
	v := loadedList(t)
	rows := v.rows()
	if len(rows) != 3 || rows[0].ID != stAPI.ID || rows[1].ID != stWeb.ID || rows[2].ID != stBatch.ID {
		t.Fatalf("rows %+v", rows)
	}
	// What is under way comes first; the next round looks at those, then the stacks never
	// looked at, then the oldest looks.
	snap := map[uuid.UUID]seen{}
	for id, p := range v.known {
		snap[id] = seen{active: p.Rollout != nil && p.Rollout.Active(), at: p.At}
	}
	snap[stNone.ID] = seen{at: now.Add(-time.Hour)}
	got := pickProbes(v.stacks, snap, 4)
	if len(got) != 4 {
		t.Fatalf("probes %v", got)
	}
	active := map[uuid.UUID]bool{got[0]: true, got[1]: true}
	if !active[stWeb.ID] || !active[stAPI.ID] || got[2] != id(6) || got[3] != stNone.ID {
		t.Fatalf("probes %v", got)
	}

	// Filter, open, back.
	viewtest.Press(v, "/")
	viewtest.Type(v, "halted")
	viewtest.Press(v, "enter")
	if rows := v.rows(); len(rows) != 1 || rows[0].ID != stAPI.ID {
		t.Fatalf("filter: %+v", rows)
	}
	_, cmd := viewtest.Press(v, "enter")
	if v.Detail() == nil || v.Detail().Stack().ID != stAPI.ID || cmd == nil {
		t.Fatal("enter did not open the rollout")
	}
	if keys := viewtest.HelpKeys(v); keys != "↑/k ↓/j r esc" {
		t.Errorf("keys while loading: %q", keys)
	}
	if _, cmd := viewtest.Press(v, "esc"); v.Detail() != nil || cmd == nil {
		t.Fatal("esc did not go back to a refreshed list")
	}

	// A stack deleted since is forgotten; a failed look keeps what was known.
	tag := v.tag
	v.reload()
	if v.tag == tag {
		t.Fatal("no new load")
	}
	v.Update(ListLoadedMsg{Tag: v.tag, Stacks: []client.Stack{stWeb, stAPI}, Probes: map[uuid.UUID]Probe{
		stWeb.ID: {Err: errors.New("timeout"), At: now}}})
	if _, ok := v.known[stBatch.ID]; ok || v.known[stWeb.ID].Rollout == nil {
		t.Fatalf("known after the round: %+v", v.known)
	}
	viewtest.Press(v, "esc") // clears the filter
	if out := viewtest.Render(t, v, 80, 6); !strings.Contains(out, "web          progressing 2/3 eu           ███x▒▒░░░░░░ 3/12      1      2m?") {
		t.Fatalf("a failed look is not marked:\n%s", out)
	}
}

func TestRenderFitsEverySize(t *testing.T) {
	r, h := webRollout(), halted()
	views := map[string]func() ui.View{
		"empty":  func() ui.View { return New(viewtest.Env(now, time.Second)) },
		"list":   func() ui.View { return loadedList(t) },
		"detail": func() ui.View { return detailView{newDetail(t, &r)} },
		"halted": func() ui.View { return detailView{newDetail(t, &h)} },
		"none":   func() ui.View { return detailView{newDetail(t, nil)} },
		"opened": func() ui.View { v := loadedList(t); viewtest.Press(v, "enter"); return v },
	}
	for name, mk := range views {
		v := mk()
		for _, sz := range [][2]int{{1, 1}, {3, 2}, {10, 3}, {20, 5}, {80, 24}, {200, 60}} {
			viewtest.Render(t, v, sz[0], sz[1])
		}
		if got := v.Render(0, 0); got != "" {
			t.Errorf("%s: 0x0 render %q", name, got)
		}
	}
}

// TestListPolling: the list's timer keeps running off screen without requests; coming on
// screen refreshes it, and the list rests while a rollout is open.
func TestListPolling(t *testing.T) {
	env := viewtest.Env(now, time.Millisecond)
	v := New(env).(*Model)
	v.Init()
	env.SetActive("Stacks")
	tick := listTickMsg{tag: v.tag}
	if _, cmd := v.Update(tick); viewtest.Messages(cmd)[0] != tick {
		t.Fatal("off screen a tick did more than tick")
	}
	if _, cmd := v.Update(ui.ActivatedMsg{Title: "Stacks"}); cmd != nil {
		t.Fatal("another view's activation made the list load")
	}
	tag := v.tag
	if _, cmd := v.Update(ui.ActivatedMsg{Title: "Rollouts"}); cmd == nil || v.tag == tag {
		t.Fatal("coming on screen does not refresh")
	}
	env.SetActive("Rollouts")
	if _, cmd := v.Update(listTickMsg{tag: v.tag}); cmd == nil {
		t.Fatal("on screen a tick does not load")
	}
	lv := loadedList(t)
	viewtest.Press(lv, "enter")
	if _, cmd := lv.Update(listTickMsg{tag: lv.tag}); cmd != nil {
		t.Fatal("the list polls behind an open rollout")
	}
}
