package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/brokkr/brokkr/agent/httpserver"
	"github.com/brokkr/brokkr/client"
)

func frameOf(t *testing.T, typ, line string) client.WSMessage {
	t.Helper()
	m, err := client.NewWSMessage(typ, map[string]string{"line": line})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// drainInto runs Drain until n frames were sent, and returns them.
func drainInto(t *testing.T, u *Uplink, n int) []client.WSMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []client.WSMessage
	err := u.Drain(ctx, func(_ context.Context, m client.WSMessage) error {
		got = append(got, m)
		if len(got) == n {
			cancel()
		}
		return nil
	})
	if err != nil || len(got) != n {
		t.Fatalf("drained %d frames (%v), want %d", len(got), err, n)
	}
	return got
}

const (
	sentMetric    = "brokkr_agent_telemetry_frames_sent_total"
	droppedMetric = "brokkr_agent_telemetry_frames_dropped_total"
)

// A full uplink refuses frames without blocking and counts them per frame type; what it
// queued is sent in order and counted as sent.
func TestUplinkFullDropsAndCounts(t *testing.T) {
	reg := httpserver.NewRegistry()
	u := NewUplink(2, httpserver.NewMetrics(reg))
	offers := []struct {
		m    client.WSMessage
		want bool
	}{
		{frameOf(t, client.WSK8sEvent, "a"), true},
		{frameOf(t, client.WSPodLogLine, "b"), true},
		{frameOf(t, client.WSK8sEvent, "c"), false},
		{frameOf(t, client.WSK8sEvent, "d"), false},
		{frameOf(t, client.WSLogGap, "e"), false},
		{frameOf(t, "something_else", "f"), false},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, o := range offers {
			if got := u.Offer(o.m); got != o.want {
				t.Errorf("offer %d: %v, want %v", i, got, o.want)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Offer blocked on a full queue")
	}
	if u.Len() != 2 {
		t.Fatalf("queue holds %d frames", u.Len())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP brokkr_agent_telemetry_frames_dropped_total Telemetry frames dropped before reaching the broker (outbound queue full, or a send failed twice), by frame type.
# TYPE brokkr_agent_telemetry_frames_dropped_total counter
brokkr_agent_telemetry_frames_dropped_total{type="k8s_event"} 2
brokkr_agent_telemetry_frames_dropped_total{type="log_gap"} 1
brokkr_agent_telemetry_frames_dropped_total{type="other"} 1
brokkr_agent_telemetry_frames_dropped_total{type="pod_log_line"} 0
`), droppedMetric); err != nil {
		t.Fatal(err)
	}

	got := drainInto(t, u, 2)
	if string(got[0].Body) != `{"line":"a"}` || string(got[1].Body) != `{"line":"b"}` {
		t.Fatalf("sent %s, %s", got[0].Body, got[1].Body)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP brokkr_agent_telemetry_frames_sent_total Telemetry frames written to the WebSocket channel, by frame type.
# TYPE brokkr_agent_telemetry_frames_sent_total counter
brokkr_agent_telemetry_frames_sent_total{type="k8s_event"} 1
brokkr_agent_telemetry_frames_sent_total{type="log_gap"} 0
brokkr_agent_telemetry_frames_sent_total{type="other"} 0
brokkr_agent_telemetry_frames_sent_total{type="pod_log_line"} 1
`), sentMetric); err != nil {
		t.Fatal(err)
	}
	// Room again: the queue takes frames after it was drained.
	if !u.Offer(frameOf(t, client.WSK8sEvent, "g")) {
		t.Fatal("a drained queue refused a frame")
	}
}

// A frame whose send failed is the first one sent by the next Drain (the channel came back);
// a frame that fails twice is dropped and counted, so it cannot block the queue.
func TestUplinkRetriesAFailedFrameOnce(t *testing.T) {
	reg := httpserver.NewRegistry()
	u := NewUplink(8, httpserver.NewMetrics(reg))
	for _, l := range []string{"a", "b", "c"} {
		u.Offer(frameOf(t, client.WSK8sEvent, l))
	}
	lost := errors.New("connection lost")
	failing := func(context.Context, client.WSMessage) error { return lost }
	if err := u.Drain(context.Background(), failing); !errors.Is(err, lost) {
		t.Fatalf("Drain returned %v", err)
	}
	got := drainInto(t, u, 1)
	if string(got[0].Body) != `{"line":"a"}` {
		t.Fatalf("after a reconnect the first frame sent is %s, want the one that failed", got[0].Body)
	}
	// "b" fails twice: dropped; "c" goes next.
	for range 2 {
		if err := u.Drain(context.Background(), failing); !errors.Is(err, lost) {
			t.Fatalf("Drain returned %v", err)
		}
	}
	got = drainInto(t, u, 1)
	if string(got[0].Body) != `{"line":"c"}` {
		t.Fatalf("sent %s, want the frame after the dropped one", got[0].Body)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP brokkr_agent_telemetry_frames_dropped_total Telemetry frames dropped before reaching the broker (outbound queue full, or a send failed twice), by frame type.
# TYPE brokkr_agent_telemetry_frames_dropped_total counter
brokkr_agent_telemetry_frames_dropped_total{type="k8s_event"} 1
brokkr_agent_telemetry_frames_dropped_total{type="log_gap"} 0
brokkr_agent_telemetry_frames_dropped_total{type="other"} 0
brokkr_agent_telemetry_frames_dropped_total{type="pod_log_line"} 0
`), droppedMetric); err != nil {
		t.Fatal(err)
	}
}

// Drain returns when its context ends, with nothing queued.
func TestUplinkDrainStopsWithItsContext(t *testing.T) {
	u := NewUplink(0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := u.Drain(ctx, func(context.Context, client.WSMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var none *Uplink
	if none.Offer(frameOf(t, client.WSK8sEvent, "a")) {
		t.Fatal("a nil uplink took a frame")
	}
}
