package workorders

import (
	"errors"
	"os"
	"path/filepath"
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

var now = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func newModel(t *testing.T) *Model {
	t.Helper()
	return New(viewtest.Env(now, time.Second)).(*Model)
}

var (
	agentEdge1 = client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001"), Name: "edge-1", ClusterName: "eu-1", Status: "ACTIVE"}
	agentEdge2 = client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000002"), Name: "edge-2", ClusterName: "eu-2", Status: "ACTIVE"}
	agentGPU   = client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000003"), Name: "gpu-builder", ClusterName: "us-1", Status: "ACTIVE"}

	idPending = uuid.MustParse("1a2b3c4d-0000-4000-8000-000000000001")
	idClaimed = uuid.MustParse("2b3c4d5e-0000-4000-8000-000000000002")
	idRetry   = uuid.MustParse("3c4d5e6f-0000-4000-8000-000000000003")
	idDone    = uuid.MustParse("4d5e6f70-0000-4000-8000-000000000004")
	idFailed  = uuid.MustParse("5e6f7081-0000-4000-8000-000000000005")
)

const buildYAML = `apiVersion: shipwright.io/v1beta1
kind: Build
metadata:
  name: web-build
spec:
  source:
    git:
      url: https://git.example.com/acme/web.git
  strategy:
    name: buildah
    kind: ClusterBuildStrategy
  output:
    image: registry.example.com/acme/web:1.4.2
`

func sample(m *Model) LoadedMsg {
	return LoadedMsg{
		Gen: 1, At: now,
		Orders: []client.WorkOrder{
			{ID: idPending, CreatedAt: now.Add(-2 * time.Minute), UpdatedAt: now.Add(-2 * time.Minute), WorkType: "build",
				YAMLContent: buildYAML, Status: client.WorkOrderPending, MaxRetries: 3, BackoffSeconds: 60, ClaimTimeoutSeconds: 3600},
			{ID: idClaimed, CreatedAt: now.Add(-15 * time.Minute), UpdatedAt: now.Add(-10 * time.Minute), WorkType: "custom",
				YAMLContent: "kind: Job\n", Status: client.WorkOrderClaimed, ClaimedBy: &agentEdge2.ID, ClaimedAt: viewtest.Ptr(now.Add(-10 * time.Minute)),
				MaxRetries: 3, BackoffSeconds: 60, ClaimTimeoutSeconds: 3600},
			{ID: idRetry, CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now.Add(-5 * time.Minute), WorkType: "build",
				YAMLContent: "kind: Build\n", Status: client.WorkOrderRetryPending, MaxRetries: 3, RetryCount: 2, BackoffSeconds: 60,
				ClaimTimeoutSeconds: 3600, NextRetryAfter: viewtest.Ptr(now.Add(3 * time.Minute)),
				LastError: viewtest.Ptr("image push failed: 503 from registry"), LastErrorAt: viewtest.Ptr(now.Add(-5 * time.Minute))},
		},
		Finished: []client.WorkOrderLog{
			{ID: idDone, WorkType: "custom", CreatedAt: now.Add(-26 * time.Hour), ClaimedAt: viewtest.Ptr(now.Add(-25 * time.Hour)),
				CompletedAt: now.Add(-25 * time.Hour), ClaimedBy: &agentEdge1.ID, Success: true, ResultMessage: viewtest.Ptr("applied 2 resources"),
				YAMLContent: "kind: ConfigMap\n"},
			{ID: idFailed, WorkType: "build", CreatedAt: now.Add(-4 * 24 * time.Hour), ClaimedAt: viewtest.Ptr(now.Add(-4*24*time.Hour + time.Minute)),
				CompletedAt: now.Add(-4*24*time.Hour + 20*time.Minute), ClaimedBy: &agentGPU.ID, Success: false, RetriesAttempted: 3,
				ResultMessage: viewtest.Ptr("build failed: step-build-and-push exited with 1\nerror: unauthorized: authentication required"),
				YAMLContent:   buildYAML},
		},
		Agents:   []client.Agent{agentEdge1, agentEdge2, agentGPU},
		Eligible: map[uuid.UUID][]uuid.UUID{idPending: {agentGPU.ID, agentEdge1.ID}},
	}
}

func TestListGolden(t *testing.T) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"120x40", 120, 40}} {
		t.Run(size.name, func(t *testing.T) {
			m := newModel(t)
			v, _ := m.Update(sample(m))
			out := ui.Plain(v.Render(size.w, size.h))
			viewtest.CheckSize(t, out, size.w, size.h)
			golden.RequireEqual(t, out)
		})
	}
}

func TestListStates(t *testing.T) {
	t.Run("loading", func(t *testing.T) {
		out := ui.Plain(newModel(t).Render(80, 24))
		viewtest.CheckSize(t, out, 80, 24)
		golden.RequireEqual(t, out)
	})
	t.Run("empty", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(LoadedMsg{Gen: 1, At: now, Orders: []client.WorkOrder{}})
		golden.RequireEqual(t, ui.Plain(v.Render(80, 24)))
	})
	t.Run("error keeps data", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, cmd := v.Update(LoadedMsg{Gen: 2, At: now, Err: errors.New("list work orders: connection refused")})
		if len(m.rows) != 5 {
			t.Fatalf("rows after a failed load: %d, want the 5 of the last load", len(m.rows))
		}
		st := viewtest.Messages(cmd)
		if len(st) != 1 || st[0].(ui.StatusMsg).Err == nil {
			t.Fatalf("a failed load reports %v, want a StatusMsg with the error", st)
		}
		golden.RequireEqual(t, ui.Plain(v.Render(80, 24)))
	})
	t.Run("filter", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, _ = viewtest.Press(v, "/")
		if !v.Capturing() {
			t.Fatal("typing a filter must capture keys")
		}
		v = viewtest.Type(v, "build")
		v, _ = viewtest.Press(v, "enter")
		if v.Capturing() {
			t.Fatal("enter ends the filter")
		}
		if got := len(m.visible()); got != 3 {
			t.Fatalf("%d rows match build, want 3", got)
		}
		golden.RequireEqual(t, ui.Plain(v.Render(80, 24)))
	})
	t.Run("tiny", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		for _, sz := range [][2]int{{1, 1}, {5, 2}, {20, 3}, {0, 0}} {
			out := ui.Plain(v.Render(sz[0], sz[1]))
			if sz[0] > 0 {
				viewtest.CheckSize(t, out, sz[0], sz[1])
			}
		}
		v, _ = viewtest.Press(v, "enter")
		for _, sz := range [][2]int{{1, 1}, {5, 2}, {20, 3}} {
			viewtest.CheckSize(t, ui.Plain(v.Render(sz[0], sz[1])), sz[0], sz[1])
		}
		v, _ = viewtest.Press(v, "esc", "n")
		for _, sz := range [][2]int{{1, 1}, {5, 2}, {20, 3}} {
			viewtest.CheckSize(t, ui.Plain(v.Render(sz[0], sz[1])), sz[0], sz[1])
		}
	})
}

func TestStaleAnswersAreIgnored(t *testing.T) {
	m := newModel(t)
	m.Update(sample(m))
	stale := LoadedMsg{Gen: 1, At: now, Orders: []client.WorkOrder{}}
	m.Update(stale)
	if len(m.rows) != 5 {
		t.Fatalf("a late answer of an older request replaced the data: %d rows", len(m.rows))
	}
}

func TestRows(t *testing.T) {
	m := newModel(t)
	m.Update(sample(m))
	want := []struct {
		id                                  uuid.UUID
		status, targets, retries, claimedBy string
		queued                              bool
	}{
		{idPending, "PENDING", "edge-1,gpu-builder", "0/3", "-", true},
		{idClaimed, "CLAIMED", "-", "0/3", "edge-2", true},
		{idRetry, "RETRY_PENDING", "-", "2/3", "-", true},
		{idDone, "COMPLETED", "-", "0", "edge-1", false},
		{idFailed, "FAILED", "-", "3", "gpu-builder", false},
	}
	if len(m.rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(m.rows), len(want))
	}
	for i, w := range want {
		r := m.rows[i]
		if r.id != w.id || r.status != w.status || r.targets != w.targets || r.retries != w.retries || r.claimedBy != w.claimedBy || r.queued != w.queued {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
}

func TestCursorFollowsTheSelectedOrderAcrossReloads(t *testing.T) {
	m := newModel(t)
	v, _ := m.Update(sample(m))
	v, _ = viewtest.Press(v, "j", "j") // the RETRY_PENDING order
	next := sample(m)
	next.Gen = 2
	next.Orders = next.Orders[1:] // the PENDING one was claimed and left the list head
	v.Update(next)
	r, ok := m.selected()
	if !ok || r.id != idRetry {
		t.Fatalf("selected %v after reload, want %s", r.id, idRetry)
	}
}

func TestDetailGolden(t *testing.T) {
	t.Run("queued 80x24", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, cmd := viewtest.Press(v, "enter")
		if cmd == nil || m.mode != modeDetail || m.detailID != idPending {
			t.Fatalf("enter did not open the detail of the PENDING order (mode %v, id %s)", m.mode, m.detailID)
		}
		out := ui.Plain(v.Render(80, 24))
		viewtest.CheckSize(t, out, 80, 24)
		golden.RequireEqual(t, out)
	})
	t.Run("retry pending 120x40", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, _ = viewtest.Press(v, "j", "j", "enter")
		out := ui.Plain(v.Render(120, 40))
		viewtest.CheckSize(t, out, 120, 40)
		golden.RequireEqual(t, out)
	})
	t.Run("failed with log 120x40", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, _ = viewtest.Press(v, "G", "enter")
		if m.detailID != idFailed {
			t.Fatalf("opened %s, want the failed order", m.detailID)
		}
		// The broker's answer: the order converted from the log, and its log entry.
		l := sample(m).Finished[1]
		o := client.WorkOrder{ID: idFailed, CreatedAt: l.CreatedAt, UpdatedAt: l.CompletedAt, WorkType: l.WorkType, YAMLContent: l.YAMLContent,
			Status: client.WorkOrderFailed, ClaimedBy: l.ClaimedBy, ClaimedAt: l.ClaimedAt, RetryCount: l.RetriesAttempted,
			LastError: l.ResultMessage, LastErrorAt: &l.CompletedAt}
		v, _ = v.Update(DetailMsg{Gen: m.detailReqs.Last(), At: now, ID: idFailed, Order: &o, Log: &l})
		out := ui.Plain(v.Render(120, 40))
		viewtest.CheckSize(t, out, 120, 40)
		golden.RequireEqual(t, out)
	})
	t.Run("scrolled 80x24", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, _ = viewtest.Press(v, "G", "enter")
		v.Render(80, 24)
		v, _ = viewtest.Press(v, "j", "j", "j", "pgdown", "pgdown", "pgdown")
		total := len(m.detailLines(80))
		if want := total - 23; want <= 0 || m.scroll != want {
			t.Fatalf("scroll %d after paging past the end, want the last page at %d", m.scroll, want)
		}
		golden.RequireEqual(t, ui.Plain(v.Render(80, 24)))
		v, _ = viewtest.Press(v, "g")
		if m.scroll != 0 {
			t.Fatalf("g scrolls to %d, want 0", m.scroll)
		}
		_, _ = viewtest.Press(v, "esc")
		if m.mode != modeList {
			t.Fatal("esc does not go back to the list")
		}
	})
}

func TestDetailIgnoresAnswersForOtherOrders(t *testing.T) {
	m := newModel(t)
	v, _ := m.Update(sample(m))
	v, _ = viewtest.Press(v, "enter")
	o := client.WorkOrder{ID: idClaimed, Status: client.WorkOrderClaimed, WorkType: "other"}
	v.Update(DetailMsg{Gen: m.detailReqs.Last(), At: now, ID: idClaimed, Order: &o})
	if m.order == nil || m.order.ID != idPending {
		t.Fatalf("detail shows %v, want the PENDING order", m.order)
	}
	v.Update(DetailMsg{Gen: m.detailReqs.Last(), At: now, ID: idPending, Err: errors.New("get work order: timeout")})
	if m.order == nil || m.detailErr == nil {
		t.Fatal("a failed refresh must keep the order and show the error")
	}
	if !strings.Contains(ui.Plain(v.Render(80, 24)), "refresh failed: get work order: timeout") {
		t.Fatal("the refresh error is not shown")
	}
}

func TestDelete(t *testing.T) {
	t.Run("queued asks first", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		_, cmd := viewtest.Press(v, "d")
		msgs := viewtest.Messages(cmd)
		if len(msgs) != 1 {
			t.Fatalf("d yields %v, want one ConfirmMsg", msgs)
		}
		c, ok := msgs[0].(ui.ConfirmMsg)
		if !ok || c.Prompt != "Delete work order 1a2b3c4d (build)?" || c.On == nil {
			t.Fatalf("d yields %#v, want a confirmation of the PENDING order", msgs[0])
		}
	})
	t.Run("finished refused", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		_, cmd := viewtest.Press(v, "G", "d")
		msgs := viewtest.Messages(cmd)
		f, ok := msgs[0].(ui.FlashMsg)
		if len(msgs) != 1 || !ok || !f.Error || !strings.Contains(f.Text, "only queued") {
			t.Fatalf("d on a finished order yields %#v, want an error flash", msgs)
		}
	})
	t.Run("outcome", func(t *testing.T) {
		m := newModel(t)
		v, _ := m.Update(sample(m))
		v, _ = viewtest.Press(v, "enter")
		_, cmd := v.Update(DeletedMsg{At: now, ID: idPending})
		if m.mode != modeList || len(m.orders) != 2 {
			t.Fatalf("after deletion mode %v, %d orders; want the list with 2 queued", m.mode, len(m.orders))
		}
		var flash ui.FlashMsg
		for _, c := range cmd().(tea.BatchMsg) {
			if f, ok := c().(ui.FlashMsg); ok {
				flash = f
				break
			}
		}
		if flash.Error || flash.Text != "work order 1a2b3c4d deleted" {
			t.Fatalf("flash %#v", flash)
		}
	})
}

func TestFormFlow(t *testing.T) {
	// Fixtures under testdata keep the paths in the goldens stable.
	good := filepath.Join("testdata", "build-order.yaml")
	empty := filepath.Join("testdata", "empty-order.yaml")
	if raw, err := os.ReadFile(good); err != nil || string(raw) != buildYAML {
		t.Fatalf("fixture %s: %v", good, err)
	}

	m := newModel(t)
	v, _ := m.Update(sample(m))
	v, _ = viewtest.Press(v, "n")
	if !v.Capturing() || m.form == nil || m.form.step != stepFile {
		t.Fatal("n must open the form on the file step, capturing keys")
	}
	viewtest.Golden(t, "file step", ui.Plain(v.Render(80, 24)))

	// Enter on an empty path: an error, no command to read anything.
	_, cmd := viewtest.Press(v, "enter")
	if m.form.err == "" || m.form.busy {
		t.Fatalf("empty path accepted: %+v", m.form)
	}
	if f := viewtest.Messages(cmd); len(f) != 1 || !f[0].(ui.FlashMsg).Error {
		t.Fatalf("empty path flashes %v", f)
	}

	// A missing file.
	v = viewtest.Type(v, filepath.Join("testdata", "missing.yaml"))
	v, cmd = viewtest.Press(v, "enter")
	if !m.form.busy {
		t.Fatal("the form is not busy while the file is read")
	}
	for _, msg := range viewtest.Messages(cmd) {
		v, cmd = v.Update(msg)
	}
	if m.form.step != stepFile || !strings.Contains(m.form.err, "no such file") {
		t.Fatalf("missing file: step %d err %q", m.form.step, m.form.err)
	}
	if f := viewtest.Messages(cmd); len(f) != 1 || !f[0].(ui.FlashMsg).Error {
		t.Fatalf("missing file flashes %v", f)
	}
	viewtest.Golden(t, "missing file 100x24", ui.Plain(v.Render(100, 24)))

	// An empty file.
	m.form.inputs[stepFile].SetValue(empty)
	v, cmd = viewtest.Press(v, "enter")
	for _, msg := range viewtest.Messages(cmd) {
		v, _ = v.Update(msg)
	}
	if m.form.step != stepFile || !strings.Contains(m.form.err, "is empty") {
		t.Fatalf("empty file: step %d err %q", m.form.step, m.form.err)
	}

	// The good file moves on to the work type, proposed as custom.
	m.form.inputs[stepFile].SetValue(good)
	v, cmd = viewtest.Press(v, "enter")
	for _, msg := range viewtest.Messages(cmd) {
		v, _ = v.Update(msg)
	}
	if m.form.step != stepType || m.form.content != buildYAML || m.form.inputs[stepType].Value() != "custom" {
		t.Fatalf("after reading the file: step %d, %d bytes, type %q", m.form.step, len(m.form.content), m.form.inputs[stepType].Value())
	}
	// A cancelled form's late file answer is ignored.
	v.Update(FileReadMsg{Form: m.form.id - 1, Content: "x"})
	if m.form.content != buildYAML {
		t.Fatal("a stale file answer was applied")
	}

	// Blank type refused; then build.
	for range 6 {
		v, _ = viewtest.Press(v, "backspace")
	}
	v, _ = viewtest.Press(v, "enter")
	if m.form.step != stepType || m.form.err == "" {
		t.Fatalf("blank work type accepted: step %d", m.form.step)
	}
	v = viewtest.Type(v, "build")
	v, _ = viewtest.Press(v, "enter")
	if m.form.step != stepTargets {
		t.Fatalf("step %d after the work type, want targets", m.form.step)
	}
	v, _ = viewtest.Press(v, "enter")
	if m.form.err == "" || m.form.busy {
		t.Fatal("no targets accepted")
	}
	v = viewtest.Type(v, "edge-1, nosuch")
	v, cmd = viewtest.Press(v, "enter")
	if !m.form.busy || cmd == nil {
		t.Fatal("enter on the targets does not create the order")
	}
	// The broker's refusal (here: the resolution error) stays in the form.
	v, cmd = v.Update(CreatedMsg{Form: m.form.id, At: now, Err: errors.New(`unknown agent "nosuch"`)})
	if m.form == nil || m.form.step != stepTargets || m.form.busy || !strings.Contains(m.form.err, "nosuch") {
		t.Fatalf("after a failed create: %+v", m.form)
	}
	var flashed bool
	for _, msg := range viewtest.Messages(cmd) {
		if f, ok := msg.(ui.FlashMsg); ok && f.Error && strings.Contains(f.Text, "nosuch") {
			flashed = true
		}
	}
	if !flashed {
		t.Fatal("the create error is not flashed")
	}
	viewtest.Golden(t, "create refused", ui.Plain(v.Render(80, 24)))

	// shift+tab goes back a step; esc cancels the form.
	v, _ = viewtest.Press(v, "shift+tab")
	if m.form.step != stepType {
		t.Fatalf("shift+tab: step %d", m.form.step)
	}
	v, _ = viewtest.Press(v, "esc")
	if m.form != nil || v.Capturing() {
		t.Fatal("esc does not close the form")
	}
}

func TestResolveAgents(t *testing.T) {
	twin := client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000009"), Name: "edge-1", ClusterName: "us-9"}
	agents := []client.Agent{agentEdge1, agentEdge2, agentGPU}
	ids, names, err := resolveAgents(agents, []string{"edge-2", agentGPU.ID.String(), "edge-2"})
	if err != nil || len(ids) != 2 || ids[0] != agentEdge2.ID || ids[1] != agentGPU.ID || names[1] != "gpu-builder" {
		t.Fatalf("resolve = %v %v %v", ids, names, err)
	}
	if _, _, err := resolveAgents(agents, []string{"edge-3"}); err == nil || !strings.Contains(err.Error(), `unknown agent "edge-3"`) {
		t.Fatalf("unknown name: %v", err)
	}
	if _, _, err := resolveAgents(agents, []string{uuid.NewString()}); err == nil {
		t.Fatal("an id of no agent resolved")
	}
	if _, _, err := resolveAgents(append(agents, twin), []string{"edge-1"}); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("shared name: %v", err)
	}
	if ids, _, err := resolveAgents(append(agents, twin), []string{twin.ID.String()}); err != nil || ids[0] != twin.ID {
		t.Fatalf("id of a twin: %v %v", ids, err)
	}
}

func TestSplitTargets(t *testing.T) {
	got := splitTargets(" edge-1 ,, edge-2,")
	if strings.Join(got, "|") != "edge-1|edge-2" {
		t.Fatalf("splitTargets = %q", got)
	}
}

func TestDetailStripsControlSequences(t *testing.T) {
	m := newModel(t)
	msg := sample(m)
	msg.Orders[0].YAMLContent = "kind: Job\x1b[2J\nmetadata:\r\n\tname: x\n"
	v, _ := m.Update(msg)
	v, _ = viewtest.Press(v, "enter")
	out := v.Render(80, 24)
	if strings.Contains(out, "\x1b[2J") || strings.ContainsAny(out, "\r\t") {
		t.Fatalf("the YAML's control characters reach the terminal: %q", out)
	}
	if !strings.Contains(out, "\n  kind: Job  ") || !strings.Contains(out, "\n      name: x  ") {
		t.Fatalf("the YAML is not shown:\n%s", out)
	}
}
