package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/brokkr/brokkr/client"
)

// frameSink is an uplink of the tests: it keeps every frame it takes, refuses frames while
// refuse is set, and holds at most limit frames until taken when limit > 0.
type frameSink struct {
	mu     sync.Mutex
	frames []client.WSMessage
	limit  int
	refuse atomic.Bool
}

func (s *frameSink) Offer(m client.WSMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse.Load() || (s.limit > 0 && len(s.frames) >= s.limit) {
		return false
	}
	s.frames = append(s.frames, m)
	return true
}

// take returns the frames so far and empties the sink.
func (s *frameSink) take() []client.WSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.frames
	s.frames = nil
	return out
}

func (s *frameSink) all() []client.WSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]client.WSMessage(nil), s.frames...)
}

// bodies decodes the bodies of the frames of one type, in order.
func bodies[T any](t testing.TB, frames []client.WSMessage, typ string) []T {
	t.Helper()
	var out []T
	for _, m := range frames {
		if m.Type == typ {
			var b T
			if err := m.Decode(&b); err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// lines returns the pod_log_line bodies of frames, in order.
func lines(t testing.TB, frames []client.WSMessage) []client.PodLogLine {
	return bodies[client.PodLogLine](t, frames, client.WSPodLogLine)
}

// gaps returns the log_gap bodies of frames, in order.
func gaps(t testing.TB, frames []client.WSMessage) []client.LogGap {
	return bodies[client.LogGap](t, frames, client.WSLogGap)
}

func texts(ls []client.PodLogLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Line
	}
	return out
}

// logLine is one line of a container log the tests serve.
type logLine struct {
	ts   time.Time
	text string
}

// fakeLog serves a container log the way the kubelet does: with timestamps, from sinceTime
// (sent in whole seconds), and breaking a stream after breakAfter lines when that is set.
type fakeLog struct {
	mu         sync.Mutex
	lines      []logLine
	breakAfter []int // per open: lines delivered before the stream breaks (<0: none)
	opens      []*corev1.PodLogOptions
	more       chan struct{}
}

func newFakeLog() *fakeLog { return &fakeLog{more: make(chan struct{})} }

func (f *fakeLog) add(ls ...logLine) {
	f.mu.Lock()
	f.lines = append(f.lines, ls...)
	close(f.more)
	f.more = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeLog) open(ctx context.Context, _, _ string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	n := len(f.opens)
	f.opens = append(f.opens, o.DeepCopy())
	limit := -1
	if n < len(f.breakAfter) {
		limit = f.breakAfter[n]
	}
	f.mu.Unlock()
	var since time.Time
	if o.SinceTime != nil {
		since = o.SinceTime.Truncate(time.Second) // the query parameter has whole seconds
	}
	pr, pw := io.Pipe()
	go func() {
		sent, next := 0, 0
		for {
			f.mu.Lock()
			pending, more := f.lines[next:], f.more
			next = len(f.lines)
			f.mu.Unlock()
			for _, l := range pending {
				if l.ts.Before(since) {
					continue
				}
				if _, err := fmt.Fprintf(pw, "%s %s\n", l.ts.UTC().Format(time.RFC3339Nano), l.text); err != nil {
					return
				}
				if sent++; sent == limit {
					_ = pw.CloseWithError(errors.New("connection reset by peer"))
					return
				}
			}
			select {
			case <-ctx.Done():
				_ = pw.CloseWithError(ctx.Err())
				return
			case <-more:
			}
		}
	}()
	return pr, nil
}

func (f *fakeLog) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.opens)
}

// testLogs is a Logs whose store holds one running pod with container "c", reading log.
func testLogs(t *testing.T, log *fakeLog, sink *frameSink) (*Logs, containerRef) {
	t.Helper()
	l := NewLogs(LogsOptions{AgentID: uuid.New(), Uplink: sink})
	l.retryMin, l.retryMax, l.started = 10*time.Millisecond, 50*time.Millisecond, time.Now()
	l.open = log.open
	l.store = toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1", Annotations: map[string]string{AnnotationStreamLogs: "true"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ContainerID: "containerd://1",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}},
	}
	if err := l.store.Add(pod); err != nil {
		t.Fatal(err)
	}
	return l, containerRef{namespace: "ns", pod: "p", container: "c", uid: "uid-1", identity: "containerd://1"}
}

// follow runs a follower of ref until the test ends.
func follow(t *testing.T, l *Logs, ref containerRef) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		newFollower(l, ref, uuid.New()).run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestResumeSendsNothingTwice breaks the stream three times, once in the middle of lines
// sharing one timestamp: every line arrives once, in order, and each reopened stream asks
// for the log since the last line sent.
func TestResumeSendsNothingTwice(t *testing.T) {
	log, sink := newFakeLog(), &frameSink{}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []string
	var all []logLine
	for i := range 12 {
		// Three lines at each of four instants within two seconds.
		ts := base.Add(time.Duration(i/3) * 400 * time.Millisecond)
		all = append(all, logLine{ts, fmt.Sprintf("line %d", i)})
		want = append(want, fmt.Sprintf("line %d", i))
	}
	log.add(all...)
	// Every stream starts at the second of its sinceTime, so it repeats lines: the first
	// breaks after line 3, the second between lines 4 and 5 (one instant), the third after 7.
	log.breakAfter = []int{4, 5, 8}
	l, ref := testLogs(t, log, sink)
	follow(t, l, ref)
	eventually(t, 5*time.Second, "every line", func() bool { return len(lines(t, sink.all())) >= len(want) })
	time.Sleep(100 * time.Millisecond) // a duplicate would arrive now
	got := texts(lines(t, sink.all()))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("lines %q\nwant  %q", got, want)
	}
	if n := log.openCount(); n != 4 {
		t.Fatalf("%d streams opened, want 4", n)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.opens[0].SinceTime != nil || !log.opens[0].Follow || !log.opens[0].Timestamps || log.opens[0].Container != "c" {
		t.Errorf("first stream %+v", log.opens[0])
	}
	if s := log.opens[1].SinceTime; s == nil || !s.Time.Equal(all[3].ts) {
		t.Errorf("second stream since %v, want %v", s, all[3].ts)
	}
	if s := log.opens[3].SinceTime; s == nil || !s.Time.Equal(all[7].ts) {
		t.Errorf("fourth stream since %v, want %v", s, all[7].ts)
	}
}

// TestFollowerStopsWhenTheRunIsReplaced: a stream that ends after the container restarted
// is not opened again (the new run has a follower of its own).
func TestFollowerStopsWhenTheRunIsReplaced(t *testing.T) {
	log, sink := newFakeLog(), &frameSink{}
	log.add(logLine{time.Now(), "first run"})
	log.breakAfter = []int{1}
	l, ref := testLogs(t, log, sink)
	ref.identity = "containerd://0" // the store knows a newer run
	done := make(chan struct{})
	go func() {
		newFollower(l, ref, uuid.New()).run(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower of a replaced run kept going")
	}
	if n := log.openCount(); n != 1 {
		t.Fatalf("%d streams opened", n)
	}
}

// TestRateLimitReportsAGap: 250 lines at once from one container → the first 100 are sent,
// the other 150 are one rate_limit gap since the first dropped line, sent when the second is
// over even though the container fell silent; the next second sends again.
func TestRateLimitReportsAGap(t *testing.T) {
	log, sink := newFakeLog(), &frameSink{}
	base := time.Now().UTC()
	var burst []logLine
	for i := range 250 {
		burst = append(burst, logLine{base.Add(time.Duration(i) * time.Microsecond), fmt.Sprintf("burst %d", i)})
	}
	log.add(burst...)
	l, ref := testLogs(t, log, sink)
	follow(t, l, ref)
	eventually(t, 5*time.Second, "the gap", func() bool { return len(gaps(t, sink.all())) > 0 })
	frames := sink.all()
	ls, gs := lines(t, frames), gaps(t, frames)
	if len(ls) != 100 || ls[99].Line != "burst 99" {
		t.Fatalf("%d lines sent, want the first 100", len(ls))
	}
	g := gs[0]
	if len(gs) != 1 || g.Reason != client.GapRateLimit || g.DroppedCount != 150 || !g.SinceTS.Equal(burst[100].ts) || g.AgentID != l.opts.AgentID {
		t.Fatalf("gaps %+v, want one rate_limit gap of 150 since %v", gs, burst[100].ts)
	}
	if frames[len(frames)-1].Type != client.WSLogGap {
		t.Fatal("the gap is not the last frame")
	}
	log.add(logLine{time.Now(), "after the burst"})
	eventually(t, 5*time.Second, "the next line", func() bool { return len(lines(t, sink.all())) == 101 })
}

// TestFullUplinkReportsTheGapOnceFramesGoThrough: lines the uplink refuses are counted; the
// gap (buffer_full while connected, disconnected while not) goes out ahead of the next line
// that goes through, or on its own once the uplink takes frames again.
func TestFullUplinkReportsTheGapOnceFramesGoThrough(t *testing.T) {
	log, sink := newFakeLog(), &frameSink{}
	var connected atomic.Bool
	connected.Store(true)
	l, ref := testLogs(t, log, sink)
	l.opts.Connected = connected.Load
	follow(t, l, ref)

	log.add(logLine{time.Now(), "sent"})
	eventually(t, 5*time.Second, "the first line", func() bool { return len(sink.all()) == 1 })
	sink.refuse.Store(true)
	first := time.Now()
	log.add(logLine{first, "lost 1"}, logLine{first.Add(time.Millisecond), "lost 2"}, logLine{first.Add(2 * time.Millisecond), "lost 3"})
	time.Sleep(200 * time.Millisecond)
	sink.refuse.Store(false)
	log.add(logLine{time.Now(), "through again"})
	eventually(t, 5*time.Second, "the line after the loss", func() bool { return len(sink.all()) == 3 })
	frames := sink.take()
	if gs := gaps(t, frames[1:2]); len(gs) != 1 || gs[0].Reason != client.GapBufferFull || gs[0].DroppedCount != 3 || !gs[0].SinceTS.Equal(first.UTC()) {
		t.Fatalf("frames %+v, want a buffer_full gap of 3 ahead of the next line", frames)
	}
	if ls := lines(t, frames[2:]); len(ls) != 1 || ls[0].Line != "through again" {
		t.Fatalf("frames %+v", frames)
	}

	// Down: the gap says disconnected, and is sent by itself once frames go through.
	connected.Store(false)
	sink.refuse.Store(true)
	log.add(logLine{time.Now(), "lost while down"})
	time.Sleep(200 * time.Millisecond)
	connected.Store(true)
	sink.refuse.Store(false)
	eventually(t, 5*time.Second, "the disconnected gap", func() bool { return len(sink.all()) == 1 })
	if gs := gaps(t, sink.all()); len(gs) != 1 || gs[0].Reason != client.GapDisconnected || gs[0].DroppedCount != 1 {
		t.Fatalf("frames %+v", sink.all())
	}
}

// TestLongLinesAreCut: a line over the limit is cut on a character boundary and marked; the
// lines around it are whole.
func TestLongLinesAreCut(t *testing.T) {
	log, sink := newFakeLog(), &frameSink{}
	now := time.Now()
	long := strings.Repeat("a", LogLineMax-1) + "é" + strings.Repeat("b", 30000) // é straddles the limit
	log.add(logLine{now, "before"}, logLine{now.Add(time.Millisecond), long}, logLine{now.Add(2 * time.Millisecond), "after\x00nul \xff"})
	l, ref := testLogs(t, log, sink)
	follow(t, l, ref)
	eventually(t, 5*time.Second, "three lines", func() bool { return len(sink.all()) == 3 })
	ls := lines(t, sink.all())
	wantCut := strings.Repeat("a", LogLineMax-1) + " [… 30002 bytes cut]"
	if ls[0].Line != "before" || ls[1].Line != wantCut || ls[2].Line != "afternul \uFFFD" {
		t.Fatalf("lines %q, %d bytes, %q", ls[0].Line, len(ls[1].Line), ls[2].Line)
	}
	if !utf8.ValidString(ls[1].Line) || !ls[1].TS.Equal(now.Add(time.Millisecond).UTC()) {
		t.Fatalf("cut line %v", ls[1].TS)
	}
}
