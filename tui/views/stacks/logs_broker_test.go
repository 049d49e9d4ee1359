package stacks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/agent/telemetry"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/ui"
)

// TestAgentLogFramesInTheLogsPane: pod log lines and a rate_limit gap, sent the way
// brokkr-agent sends them (its telemetry uplink drained into a real agent channel), reach the
// open stack's logs pane through the broker, in order and with the gap marked; lines of
// another stack do not.
func TestAgentLogFramesInTheLogsPane(t *testing.T) {
	b := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := b.CreateAgent(t, "edge-1", "eu-west", true)
	st := b.CreateStack(t, "web", a.ID)
	other := b.CreateStack(t, "api", a.ID)
	b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)
	b.Post(t, other.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\n", false)

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), RefreshEvery: time.Hour, Ctx: ctx}
	v := New(env).(*Model)
	h := newHarness(t, v)
	v.Render(120, 30)
	h.run(v.Init())
	h.until("the list", func() bool { return v.loaded && len(v.stacks) == 2 })
	if v.stacks[0].ID != st.ID {
		h.press("j")
	}
	h.press("enter")
	d := v.detail
	if d == nil || d.stack.ID != st.ID {
		t.Fatalf("opened %+v", d)
	}
	h.until("the live channel and the agents", func() bool { return d.telemetryReady && d.liveState == "live" && d.agentsOK })
	h.press("L")

	ch, err := a.Client.AgentChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ch.Close() }()
	up := telemetry.NewUplink(0, nil)
	go func() { _ = up.Drain(ctx, ch.Send) }()
	offer := func(typ string, body any) {
		t.Helper()
		m, err := client.NewWSMessage(typ, body)
		if err != nil {
			t.Fatal(err)
		}
		if !up.Offer(m) {
			t.Fatal("the uplink refused a frame")
		}
	}
	line := func(stack uuid.UUID, at time.Time, text string) client.PodLogLine {
		return client.PodLogLine{AgentID: a.ID, StackID: stack, Namespace: "web", Pod: "web-7d9c-x2", Container: "main", TS: at, Line: text}
	}
	base := time.Now().Add(-time.Minute).UTC()
	for i := range 3 {
		offer(client.WSPodLogLine, line(st.ID, base.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("request %d served", i)))
	}
	offer(client.WSLogGap, client.LogGap{AgentID: a.ID, StackID: st.ID, SinceTS: base.Add(3 * time.Millisecond), DroppedCount: 150, Reason: client.GapRateLimit})
	offer(client.WSPodLogLine, line(other.ID, base.Add(4*time.Millisecond), "a line of another stack"))
	offer(client.WSPodLogLine, line(st.ID, base.Add(time.Second), "after the burst"))

	h.until("the frames in the logs pane", func() bool { return len(d.logs.lines) == 5 })
	out := ui.Plain(v.Render(160, 30))
	want := []string{"request 0 served", "request 1 served", "request 2 served",
		fmt.Sprintf("⋯ 150 dropped (rate_limit) since %s", base.Format("15:04:05")), "after the burst"}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("the logs pane lacks %q after offset %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
	if !strings.Contains(out, "edge-1") || !strings.Contains(out, "web-7d9c-x2/main │ request 0 served") {
		t.Errorf("lines lack their agent or source:\n%s", out)
	}
	if strings.Contains(out, "another stack") {
		t.Errorf("a line of another stack is shown:\n%s", out)
	}
}
