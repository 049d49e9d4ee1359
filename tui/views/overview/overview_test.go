package overview

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newModel(t testing.TB) *Model {
	t.Helper()
	m, ok := New(viewtest.Env(now, time.Second)).(*Model)
	if !ok {
		t.Fatal("New does not return *Model")
	}
	return m
}

func ago(d time.Duration) *time.Time { t := now.Add(-d); return &t }

// id makes readable, stable ids.
func id(n int) uuid.UUID { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(strconv.Itoa(n))) }

func seedFleet() []client.FleetAgentRecord {
	return []client.FleetAgentRecord{
		{AgentID: id(1), Name: "edge-eu-1", ClusterName: "eu-west", Status: "ACTIVE", WSConnected: true, LastHeartbeat: ago(10 * time.Second), K8sReachable: viewtest.Ptr(true)},
		{AgentID: id(2), Name: "edge-eu-2", ClusterName: "eu-west", Status: "ACTIVE", WSConnected: true, LastHeartbeat: ago(3 * time.Minute), K8sReachable: viewtest.Ptr(true), HealthFailing: 2, HealthDegraded: 1},
		{AgentID: id(3), Name: "edge-us-1", ClusterName: "us-east", Status: "ACTIVE", LastHeartbeat: ago(2 * time.Hour), K8sReachable: viewtest.Ptr(false), HealthDegraded: 1},
		{AgentID: id(4), Name: "lab-1", ClusterName: "lab", Status: "INACTIVE"},
		{AgentID: id(5), Name: "edge-ap-1", ClusterName: "ap-south", Status: "ACTIVE", WSConnected: true, LastHeartbeat: ago(20 * time.Second), K8sReachable: viewtest.Ptr(true)},
	}
}

func seedMsg(m *Model) LoadedMsg {
	stacks := []client.Stack{{ID: id(101), Name: "web"}, {ID: id(102), Name: "api"}, {ID: id(103), Name: "batch"}, {ID: id(104), Name: "db"}}
	msg := func(s string) *string { return &s }
	return LoadedMsg{
		Gen: m.gen, At: now,
		Fleet: &FleetResult{Records: seedFleet()},
		Health: &HealthResult{Stacks: stacks, Next: 0, Walked: 4, Probed: []StackHealth{
			{StackID: id(101), Status: "failing", Failing: 2},
			{StackID: id(102), Status: "degraded", Degraded: 1},
			{StackID: id(103), Status: "healthy"},
			{StackID: id(104), Status: "unknown"},
		}},
		Work: &WorkResult{Pending: 3, Claimed: 1, Oldest: []client.WorkOrder{
			{ID: id(201), WorkType: "build", CreatedAt: now.Add(-5 * time.Hour), MaxRetries: 3, RetryCount: 1},
			{ID: id(202), WorkType: "custom", CreatedAt: now.Add(-40 * time.Minute), MaxRetries: 3},
			{ID: id(203), WorkType: "build", CreatedAt: now.Add(-2 * time.Minute), MaxRetries: 3},
		}},
		Events: &EventsResult{Events: []client.AgentEvent{
			{ID: id(301), AgentID: id(2), EventType: "DEPLOY", Status: "FAILURE", Message: msg("apply web: image pull backoff"), CreatedAt: now.Add(-30 * time.Second)},
			{ID: id(302), AgentID: id(1), EventType: "DEPLOY", Status: "SUCCESS", Message: msg("applied 3 objects"), CreatedAt: now.Add(-2 * time.Minute)},
			{ID: id(303), AgentID: id(3), EventType: "DELETE", Status: "SUCCESS", CreatedAt: now.Add(-1 * time.Hour)},
			{ID: id(304), AgentID: id(99), EventType: "DEPLOY", Status: "FAILURE", Message: msg("agent since deleted"), CreatedAt: now.Add(-26 * time.Hour)},
		}},
	}
}

// seeded returns a view holding the seed data, with the live channel connected.
func seeded(t testing.TB) *Model {
	t.Helper()
	m := newModel(t)
	m.Update(seedMsg(m))
	m.Update(liveOpenedMsg{session: m.liveSession})
	return m
}

func TestRenderSeeded(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := seeded(t)
			golden.RequireEqual(t, viewtest.Render(t, m, size[0], size[1]))
		})
	}
}

func TestSeededState(t *testing.T) {
	m := seeded(t)
	n := m.fleet.n
	if n.total != 5 || n.active != 4 || n.inactive != 1 || n.connected != 3 || n.k8sUp != 3 || n.k8sDown != 1 || n.k8sUnknown != 1 {
		t.Fatalf("counts %+v", n)
	}
	if n.failingRows != 2 || n.degradedRows != 2 || n.failingAgents != 1 || n.degradedAgents != 2 {
		t.Fatalf("health counts %+v", n)
	}
	var order []string
	for _, r := range m.fleet.stale {
		order = append(order, r.Name)
	}
	if got := strings.Join(order, " "); got != "lab-1 edge-us-1 edge-eu-2 edge-ap-1 edge-eu-1" {
		t.Fatalf("stalest first: %s", got)
	}
	if len(m.badStacks) != 2 || m.badStacks[0].StackID != id(101) || m.badStacks[1].StackID != id(102) {
		t.Fatalf("unhealthy stacks %+v", m.badStacks)
	}
	out := viewtest.Render(t, m, 120, 40)
	for _, want := range []string{"5 agents · 4 stacks", "● live updates connected", "ACTIVE 4  INACTIVE 1", "connected 3  not connected 2",
		"k8s up 3  down 1  unknown 1", "lab-1", "never", "web", "2F", "pending 3  claimed 1", "apply web: image p", ui.ShortID(id(201))} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
}

func TestRenderEmpty(t *testing.T) {
	m := newModel(t)
	m.Update(LoadedMsg{Gen: m.gen, At: now,
		Fleet: &FleetResult{}, Health: &HealthResult{Skipped: true}, Work: &WorkResult{}, Events: &EventsResult{}})
	out := viewtest.Render(t, m, 80, 24)
	golden.RequireEqual(t, out)
	for _, want := range []string{"no agents registered", "no failing or degraded deployments", "nothing waiting", "no events yet"} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q", want)
		}
	}
}

func TestRenderLoading(t *testing.T) {
	m := newModel(t)
	out := viewtest.Render(t, m, 80, 24)
	if strings.Count(out, "loading…") != 4 || !strings.Contains(out, "live updates connecting") {
		t.Fatalf("before the first answer:\n%s", out)
	}
}

func TestLoadErrorKeepsData(t *testing.T) {
	m := seeded(t)
	down := fmt.Errorf("list fleet: %w", errors.New("dial tcp 127.0.0.1:3000: connect: connection refused"))
	m.Update(LoadedMsg{Gen: m.gen, At: now.Add(time.Minute),
		Fleet:  &FleetResult{Err: down},
		Health: &HealthResult{Err: errors.New("list stacks: connection refused"), Next: 0},
		Work:   &WorkResult{Err: &client.Error{StatusCode: 403, Code: "admin_required", Message: "admin only"}},
		Events: &EventsResult{Err: errors.New("list agent events: connection refused")},
	})
	m.Update(liveClosedMsg{session: m.liveSession, err: errors.New("fleet live channel: EOF")})
	m.env.Now = func() time.Time { return now.Add(time.Minute) }
	out := viewtest.Render(t, m, 80, 24)
	golden.RequireEqual(t, out)
	for _, want := range []string{"⚠ broker unreachable · data 1m old", "list fleet: dial tcp", "⚠ broker refused (403) · data 1m old", "admin only",
		"list agent events: connection refused", "list stacks: connection refused", "live updates down, retrying", "lab-1", "pending 3", "apply web"} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	if m.fleet.n.total != 5 || m.work.Pending != 3 || len(m.events) != 4 || len(m.badStacks) != 2 {
		t.Fatal("a failed refresh dropped the last data")
	}
	// The next success clears the errors.
	msg := seedMsg(m)
	msg.Gen = m.gen
	m.Update(msg)
	if out := viewtest.Render(t, m, 80, 24); strings.Contains(out, "unreachable:") || strings.Contains(out, "refused") {
		t.Fatalf("errors stay after a good refresh:\n%s", out)
	}
}

func TestLiveFrame(t *testing.T) {
	m := seeded(t)
	// lab-1 comes back: activated, connected, heartbeating, its cluster reachable.
	rec := seedFleet()[3]
	rec.Status, rec.WSConnected, rec.LastHeartbeat, rec.K8sReachable = "ACTIVE", true, ago(0), viewtest.Ptr(true)
	_, cmd := m.Update(FrameMsg{Session: m.liveSession, Record: rec, At: now})
	n := m.fleet.n
	if n.total != 5 || n.active != 5 || n.inactive != 0 || n.connected != 4 || n.k8sUp != 4 || n.k8sUnknown != 0 {
		t.Fatalf("counts after the frame %+v", n)
	}
	if m.fleet.stale[0].Name != "edge-us-1" || m.fleet.stale[4].Name != "lab-1" {
		t.Fatalf("lab-1 is not the freshest now: %s … %s", m.fleet.stale[0].Name, m.fleet.stale[4].Name)
	}
	// The frame reports the broker reachable.
	if !hasStatus(viewtest.Messages(cmd), nil) {
		t.Fatal("a frame sends no StatusMsg")
	}
	// edge-eu-2 recovers: the deployments panel follows.
	rec = seedFleet()[1]
	rec.HealthFailing, rec.HealthDegraded = 0, 0
	m.Update(FrameMsg{Session: m.liveSession, Record: rec, At: now})
	if m.fleet.n.failingRows != 0 || m.fleet.n.degradedAgents != 1 || len(m.fleet.bad) != 1 || m.fleet.bad[0].Name != "edge-us-1" {
		t.Fatalf("health after recovery %+v, bad %d", m.fleet.n, len(m.fleet.bad))
	}
	// A new agent appears.
	m.Update(FrameMsg{Session: m.liveSession, Record: client.FleetAgentRecord{AgentID: id(6), Name: "edge-new", Status: "INACTIVE"}, At: now})
	if m.fleet.n.total != 6 || m.fleet.stale[0].Name != "edge-new" {
		t.Fatalf("new agent: total %d, stalest %s", m.fleet.n.total, m.fleet.stale[0].Name)
	}
	out := viewtest.Render(t, m, 80, 24)
	golden.RequireEqual(t, out)
	// Frames of an older session are not applied.
	m.Update(FrameMsg{Session: m.liveSession + 1, Record: client.FleetAgentRecord{AgentID: id(8), Name: "y"}})
	if m.fleet.n.total != 6 {
		t.Fatalf("foreign frames applied: total %d", m.fleet.n.total)
	}
}

func TestLiveDownPollsFleet(t *testing.T) {
	m := seeded(t)
	if m.live != liveConnected {
		t.Fatal("not connected")
	}
	m.Update(liveClosedMsg{session: m.liveSession, err: errors.New("EOF")})
	if m.live != liveDown || m.backoff != 2*backoffMin {
		t.Fatalf("after a drop: state %d backoff %s", m.live, m.backoff)
	}
	// A stale retry (another session) is ignored; the current one dials again — without a
	// client the channel is off.
	m.Update(liveRetryMsg{session: m.liveSession + 7})
	if m.live != liveDown {
		t.Fatal("stale retry acted")
	}
	m.Update(liveRetryMsg{session: m.liveSession})
	if m.live != liveOff {
		t.Fatalf("retry without client: state %d", m.live)
	}
	// With a client: the retry dials a new session; once it is open, the fleet is listed
	// again at once (frames were missed), the data staying on screen meanwhile.
	m.env.Client = mustClient(t)
	m.live = liveDown
	session, gen := m.liveSession, m.gen
	if _, cmd := m.Update(liveRetryMsg{session: session}); cmd == nil || m.liveSession != session+1 || m.live != liveConnecting {
		t.Fatalf("retry: session %d state %d", m.liveSession, m.live)
	}
	// An answer of the old session is dropped.
	m.Update(liveOpenedMsg{session: session})
	if m.live != liveConnecting {
		t.Fatal("old session's answer applied")
	}
	if _, cmd := m.Update(liveOpenedMsg{session: m.liveSession}); cmd == nil {
		t.Fatal("no commands after reconnecting")
	}
	if m.live != liveConnected || m.backoff != backoffMin || !m.resync || m.gen != gen+1 || !m.plan().fleet || !m.fleetLoaded {
		t.Fatalf("after reconnecting: state %d backoff %s resync %v gen %d", m.live, m.backoff, m.resync, m.gen)
	}
}

func TestRefreshPlan(t *testing.T) {
	m := seeded(t)
	m.env.Client = mustClient(t)
	m.refreshes = 1
	m.live = liveConnected
	// Connected, fleet loaded, nothing new: only the queue (and health, as agents report
	// unhealthy rows) is read.
	p := m.plan()
	if p.fleet || p.events || !p.unhealthy || len(p.bad) != 2 || p.bad[0] != id(101) {
		t.Fatalf("plan while live %+v", p)
	}
	m.live = liveDown
	if !m.plan().fleet {
		t.Fatal("fleet not polled while the live channel is down")
	}
	m.live = liveConnected
	m.refreshes = fleetResyncEvery
	if !m.plan().fleet {
		t.Fatal("no periodic fleet resync")
	}
	m.refreshes = 1
	// A frame with a newer event asks for the events again.
	rec := seedFleet()[0]
	rec.LastEventAt = ago(0)
	m.Update(FrameMsg{Session: m.liveSession, Record: rec, At: now})
	if !m.plan().events {
		t.Fatal("newer event not fetched")
	}
}

func TestStaleAnswersDropped(t *testing.T) {
	m := newModel(t)
	m.env.Client = mustClient(t)
	m.refresh()
	old := m.gen
	if cmd := m.refresh(); cmd == nil {
		t.Fatal("no refresh command")
	}
	m.Update(LoadedMsg{Gen: old, Fleet: &FleetResult{Records: seedFleet()}})
	if m.fleetLoaded {
		t.Fatal("an answer to an older refresh was applied")
	}
	if _, cmd := m.Update(tickMsg{gen: old}); cmd != nil {
		t.Fatal("an old tick started a refresh")
	}
	_, cmd := m.Update(LoadedMsg{Gen: m.gen, Fleet: &FleetResult{Records: seedFleet()}})
	if !m.fleetLoaded || cmd == nil {
		t.Fatal("current answer not applied or no next tick")
	}
	gen := m.gen
	if _, cmd := m.Update(tickMsg{gen: gen}); cmd == nil || m.gen != gen+1 {
		t.Fatal("the tick did not refresh")
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'r', Text: "r"}); cmd == nil || m.gen != gen+2 {
		t.Fatal("r did not refresh")
	}
}

func TestKeysScrollFocusedPanel(t *testing.T) {
	m := seeded(t)
	m.Update(tea.KeyPressMsg{Code: 'j', Text: "j"})
	m.Update(tea.KeyPressMsg{Code: 'j', Text: "j"})
	if m.scroll[panelAgents] != 2 {
		t.Fatalf("agents scroll %d", m.scroll[panelAgents])
	}
	m.Update(tea.KeyPressMsg{Code: 'l', Text: "l"})
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	if m.focus != panelDeployments || m.scroll[panelDeployments] != 1 {
		t.Fatalf("focus %d scroll %v", m.focus, m.scroll)
	}
	m.Update(tea.KeyPressMsg{Code: 'h', Text: "h"})
	m.Update(tea.KeyPressMsg{Code: 'k', Text: "k"})
	if m.focus != panelAgents || m.scroll[panelAgents] != 1 {
		t.Fatalf("focus %d scroll %v", m.focus, m.scroll)
	}
	out := viewtest.Render(t, m, 80, 20)
	if strings.Contains(out, "lab-1") || !strings.Contains(out, "edge-us-1") {
		t.Fatalf("agents list not scrolled:\n%s", out)
	}
}

func TestSmallSizes(t *testing.T) {
	for _, m := range []*Model{newModel(t), seeded(t)} {
		for _, size := range [][2]int{{1, 1}, {10, 3}, {40, 10}, {59, 30}, {60, 12}, {80, 11}, {200, 60}} {
			viewtest.Render(t, m, size[0], size[1])
		}
		if m.Render(0, 5) != "" || m.Render(5, 0) != "" {
			t.Fatal("empty size renders something")
		}
	}
	out := viewtest.Render(t, seeded(t), 50, 10)
	golden.RequireEqual(t, out)
}

func TestPick(t *testing.T) {
	var stacks []client.Stack
	for i := range 10 {
		stacks = append(stacks, client.Stack{ID: id(i)})
	}
	// id(7) is known unhealthy and in the rotation: it is walked over, not probed twice.
	ids, rest, walked := pick(stacks, []uuid.UUID{id(7), id(99)}, nil, 6, 4, 2)
	if want := []uuid.UUID{id(7), id(99), id(6), id(8)}; fmt.Sprint(ids) != fmt.Sprint(want) || walked != 3 || rest != nil {
		t.Fatalf("pick = %v, %v, %d; want %v, 3", ids, rest, walked, want)
	}
	ids, _, walked = pick(stacks, nil, nil, 9, 3, 2)
	if want := []uuid.UUID{id(9), id(0), id(1)}; fmt.Sprint(ids) != fmt.Sprint(want) || walked != 3 {
		t.Fatalf("wrap: %v, %d", ids, walked)
	}
	ids, _, walked = pick(stacks[:2], nil, nil, 5, 8, 4)
	if len(ids) != 2 || walked != 2 {
		t.Fatalf("fewer stacks than the budget: %v, %d", ids, walked)
	}
	if ids, _, walked := pick(nil, nil, nil, 3, 8, 4); len(ids) != 0 || walked != 0 {
		t.Fatalf("no stacks: %v %d", ids, walked)
	}
	// The queue comes after the known unhealthy stacks and before the rotation; what does
	// not fit stays queued.
	ids, rest, walked = pick(stacks, []uuid.UUID{id(1)}, []uuid.UUID{id(1), id(5), id(6), id(7)}, 0, 3, 2)
	if want := []uuid.UUID{id(1), id(5), id(6)}; fmt.Sprint(ids) != fmt.Sprint(want) || fmt.Sprint(rest) != fmt.Sprint([]uuid.UUID{id(7)}) || walked != 0 {
		t.Fatalf("queue: %v, rest %v, walked %d", ids, rest, walked)
	}
}

func TestHealthRotation(t *testing.T) {
	m := seeded(t)
	if m.cursor != 0 || m.checked != 4 || !m.probing {
		t.Fatalf("after the seed: cursor %d checked %d probing %v", m.cursor, m.checked, m.probing)
	}
	// web recovers; everything turns healthy: the list empties and probing stops.
	m.Update(LoadedMsg{Gen: m.gen, Health: &HealthResult{Next: 0, Probed: []StackHealth{{StackID: id(101), Status: "healthy"}}}})
	if len(m.badStacks) != 1 || m.badStacks[0].StackID != id(102) {
		t.Fatalf("after web recovered %+v", m.badStacks)
	}
	m.Update(LoadedMsg{Gen: m.gen, Health: &HealthResult{Skipped: true}})
	if len(m.badStacks) != 0 || m.probing {
		t.Fatal("skipped round kept unhealthy stacks")
	}
	// A stack that disappears from the list leaves the unhealthy set.
	m.Update(LoadedMsg{Gen: m.gen, Health: &HealthResult{Probed: []StackHealth{{StackID: id(104), Status: "failing", Failing: 1}}}})
	m.Update(LoadedMsg{Gen: m.gen, Health: &HealthResult{Stacks: []client.Stack{{ID: id(101), Name: "web"}}}})
	if len(m.badStacks) != 0 {
		t.Fatalf("deleted stack still listed %+v", m.badStacks)
	}
}

// TestFleetIncremental applies random frames and checks the incremental counts and orders
// against a recomputation from scratch.
func TestFleetIncremental(t *testing.T) {
	f := newFleet()
	recs := make([]client.FleetAgentRecord, 50)
	for i := range recs {
		recs[i] = randomRecord(i, i)
	}
	f.replace(recs)
	for step := range 2000 {
		r := randomRecord((step*7919)%60, step)
		f.upsert(r)
		if step%97 == 0 {
			checkFleet(t, &f)
		}
	}
	checkFleet(t, &f)
}

func randomRecord(agent, seed int) client.FleetAgentRecord {
	h := uint64(seed)*2654435761 + uint64(agent)*40503
	r := client.FleetAgentRecord{AgentID: id(agent), Name: fmt.Sprintf("a%02d", agent%40), Status: []string{"ACTIVE", "INACTIVE", "ACTIVE"}[h%3],
		WSConnected: h%5 < 3, HealthFailing: int64(h % 4 / 3), HealthDegraded: int64(h % 7 / 5)}
	if h%11 != 0 {
		r.LastHeartbeat = ago(time.Duration(h%13) * time.Minute)
	}
	if h%3 != 0 {
		r.K8sReachable = viewtest.Ptr(h%4 != 0)
	}
	return r
}

func checkFleet(t *testing.T, f *fleet) {
	t.Helper()
	var want fleet
	var recs []client.FleetAgentRecord
	for _, p := range f.byID {
		recs = append(recs, *p)
	}
	want.replace(recs)
	if want.n != f.n {
		t.Fatalf("counts %+v, recomputed %+v", f.n, want.n)
	}
	names := func(s []*client.FleetAgentRecord) string {
		var b strings.Builder
		for _, p := range s {
			b.WriteString(p.AgentID.String()[30:] + " ")
		}
		return b.String()
	}
	if names(f.stale) != names(want.stale) || names(f.bad) != names(want.bad) {
		t.Fatalf("orders differ:\nstale %s\nwant  %s\nbad %s\nwant %s", names(f.stale), names(want.stale), names(f.bad), names(want.bad))
	}
}

func hasStatus(msgs []tea.Msg, wantErr error) bool {
	for _, m := range msgs {
		if s, ok := m.(ui.StatusMsg); ok && (s.Err == nil) == (wantErr == nil) {
			return true
		}
	}
	return false
}

func mustClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBoxLooksLikeUIBox: the panels' frames are drawn like the dashboard's other boxes.
func TestBoxLooksLikeUIBox(t *testing.T) {
	for _, s := range []*ui.Styles{ui.NewStyles(true, true), ui.NewStyles(true, false)} {
		for _, size := range [][2]int{{40, 12}, {61, 20}, {8, 3}} {
			w, h := size[0], size[1]
			lines := []string{ui.Fit("first", w-2), ui.Fit(s.Bad.Render("second"), w-2)}
			got := strings.Join(newBoxer(s).box("▸ Agents", lines, w, h), "\n")
			want := ui.Box(s, "▸ Agents", strings.Join(lines, "\n"), w, h)
			if ui.Plain(got) != ui.Plain(want) {
				t.Fatalf("%dx%d:\n%s\nui.Box:\n%s", w, h, ui.Plain(got), ui.Plain(want))
			}
			viewtest.CheckSize(t, got, w, h)
		}
	}
}
