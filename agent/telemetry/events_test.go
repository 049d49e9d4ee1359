package telemetry

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// queued takes the frames waiting in u, decoded.
func queued(t *testing.T, u *Uplink) []client.K8sEvent {
	t.Helper()
	var out []client.K8sEvent
	for {
		select {
		case m := <-u.queue:
			if m.Type != client.WSK8sEvent {
				t.Fatalf("frame type %q", m.Type)
			}
			var ev client.K8sEvent
			if err := m.Decode(&ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

// legacyEvent is an event as the core/v1 recorders write it: lastTimestamp and count.
func legacyEvent(uid, involved types.UID, reason string, last time.Time, count int32) *corev1.Event {
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "ev-" + string(uid), Namespace: "shop", UID: uid, CreationTimestamp: metav1.NewTime(last)},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web-1",
			UID: involved},
		Reason: reason, Message: reason + " happened", Type: corev1.EventTypeWarning,
		Source:        corev1.EventSource{Component: "kubelet"},
		LastTimestamp: metav1.NewTime(last), FirstTimestamp: metav1.NewTime(last), Count: count,
	}
}

func newTestEvents(t *testing.T, size int) (*Events, *Uplink, *manualClock) {
	t.Helper()
	clk := &manualClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	u := NewUplink(64, nil)
	e := newEvents(EventsOptions{AgentID: uuid.New(), CacheSize: size, Uplink: u}, clk)
	return e, u, clk
}

func reasons(evs []client.K8sEvent) string {
	var r []string
	for _, e := range evs {
		r = append(r, e.Reason)
	}
	return strings.Join(r, ",")
}

// Which events are sent: the agent's (by the involved object's cached verdict), observed
// after the start when they come from the first list, once per observation.
func TestEventsObserve(t *testing.T) {
	e, u, clk := newTestEvents(t, 100)
	stack := uuid.New()
	ours, theirs := types.UID("pod-ours"), types.UID("pod-theirs")
	e.verdicts.Add(ours, verdict{stack: stack, ours: true}, VerdictTTL)
	e.verdicts.Add(theirs, verdict{}, VerdictTTL)
	start := clk.Now()
	ctx := t.Context()

	// The first list replays history: what happened before the start is not sent, what
	// happened since is.
	e.observe(ctx, legacyEvent("e-old", ours, "Old", start.Add(-time.Minute), 1), true)
	e.observe(ctx, legacyEvent("e-new", ours, "New", start.Add(time.Second), 1), true)
	if got := reasons(queued(t, u)); got != "New" {
		t.Fatalf("from the first list: %q, want New", got)
	}
	// Watched events are sent whatever their timestamps say; events about objects that are
	// not the agent's, or about no object, are not.
	clk.Advance(time.Minute)
	e.observe(ctx, legacyEvent("e-late", ours, "Late", start.Add(-time.Hour), 1), false)
	e.observe(ctx, legacyEvent("e-theirs", theirs, "Theirs", clk.Now(), 1), false)
	e.observe(ctx, legacyEvent("e-none", "", "Nothing", clk.Now(), 1), false)
	if got := reasons(queued(t, u)); got != "Late" {
		t.Fatalf("watched: %q, want Late", got)
	}

	// The same observation again (a re-list, an update of metadata only) is a duplicate; a
	// repeat of the event (higher count, later last timestamp) is a new observation.
	at := clk.Now()
	ev := legacyEvent("e-repeat", ours, "BackOff", at, 1)
	e.observe(ctx, ev, false)
	e.observe(ctx, legacyEvent("e-repeat", ours, "BackOff", at, 1), false)
	e.observe(ctx, legacyEvent("e-repeat", ours, "BackOff", at, 1), true)
	got := queued(t, u)
	if len(got) != 1 {
		t.Fatalf("%d frames for one observation", len(got))
	}
	e.observe(ctx, legacyEvent("e-repeat", ours, "BackOff", at.Add(10*time.Second), 2), false)
	// An older observation arriving late is not sent either.
	e.observe(ctx, legacyEvent("e-repeat", ours, "BackOff", at, 1), false)
	got = queued(t, u)
	if len(got) != 1 || !got[0].ObservedAt.Equal(at.Add(10*time.Second)) {
		t.Fatalf("repeat: %+v", got)
	}
	// events.k8s.io/v1 repeats: series with a higher count and a later observation.
	series := legacyEvent("e-series", ours, "Unhealthy", time.Time{}, 0)
	series.LastTimestamp, series.FirstTimestamp = metav1.Time{}, metav1.Time{}
	series.EventTime = metav1.NewMicroTime(at)
	e.observe(ctx, series.DeepCopy(), false)
	series.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(at.Add(time.Minute))}
	e.observe(ctx, series.DeepCopy(), false)
	e.observe(ctx, series.DeepCopy(), false)
	got = queued(t, u)
	if len(got) != 2 || !got[0].ObservedAt.Equal(at) || !got[1].ObservedAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("series: %+v", got)
	}
}

// Forwarded events are remembered in an LRU of CacheSize entries: an event pushed out of it
// by newer ones is no longer recognised as a duplicate.
func TestEventsDuplicateMemoryIsBounded(t *testing.T) {
	e, u, clk := newTestEvents(t, 2)
	stack := uuid.New()
	e.verdicts.Add(types.UID("pod"), verdict{stack: stack, ours: true}, VerdictTTL)
	ctx := t.Context()
	at := clk.Now()
	for _, id := range []types.UID{"a", "b", "a", "b"} {
		e.observe(ctx, legacyEvent(id, "pod", string(id), at, 1), false)
	}
	if got := reasons(queued(t, u)); got != "a,b" {
		t.Fatalf("sent %q, want a,b", got)
	}
	e.observe(ctx, legacyEvent("c", "pod", "c", at, 1), false) // pushes "a" out
	e.observe(ctx, legacyEvent("a", "pod", "a", at, 1), false)
	e.observe(ctx, legacyEvent("c", "pod", "c", at, 1), false)
	if got := reasons(queued(t, u)); got != "c,a" {
		t.Fatalf("sent %q, want c,a", got)
	}
}

// The frame: agent and stack, the observation, type defaulting to Normal, the source from
// the reporting controller when the event has no source component, and the involved object.
func TestEventFrame(t *testing.T) {
	e, _, _ := newTestEvents(t, 10)
	stack := uuid.New()
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.FixedZone("x", 3600))
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "n1.1", Namespace: "default", UID: "ev"},
		InvolvedObject:      corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "node-uid"},
		Reason:              "Starting",
		Message:             "a\x00b",
		EventTime:           metav1.NewMicroTime(at),
		ReportingController: "kubelet",
	}
	f := e.frame(ev, stack, eventObservation(ev).at)
	if f.AgentID != e.opts.AgentID || f.StackID != stack || !f.ObservedAt.Equal(at) || f.ObservedAt.Location() != time.UTC {
		t.Fatalf("frame ids/time %+v", f)
	}
	if f.EventType != "Normal" || f.Source == nil || *f.Source != "kubelet" || f.Message != "ab" || f.Reason != "Starting" {
		t.Fatalf("frame %+v", f)
	}
	io := f.InvolvedObject
	if io.APIVersion != "v1" || io.Kind != "Node" || io.Name != "n1" || io.Namespace != nil || io.UID == nil || *io.UID != "node-uid" {
		t.Fatalf("involved object %+v", io)
	}

	ev = legacyEvent("ev2", "pod-uid", "Killing", at, 3)
	ev.Source = corev1.EventSource{}
	f = e.frame(ev, stack, eventObservation(ev).at)
	if f.EventType != "Warning" || f.Source != nil || f.InvolvedObject.Namespace == nil || *f.InvolvedObject.Namespace != "shop" {
		t.Fatalf("frame %+v", f)
	}
}

func TestEventText(t *testing.T) {
	long := strings.Repeat("é", eventTextMax) // two bytes each
	got := eventText(long)
	if len(got) > eventTextMax || len(got) < eventTextMax-1 || !utf8.ValidString(got) {
		t.Fatalf("cut to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if eventText("plain") != "plain" {
		t.Fatal("short text changed")
	}
}

// The annotations decide: this agent's id and a stack id make the object the agent's; a stack
// annotation with another owner (or none, or no valid stack id) makes it someone else's; no
// stack annotation leaves it to the owners.
func TestEventsJudge(t *testing.T) {
	e, _, _ := newTestEvents(t, 10)
	stack := uuid.New()
	self := e.opts.AgentID.String()
	for name, tc := range map[string]struct {
		ann           map[string]string
		ours, decided bool
		wantStack     uuid.UUID
	}{
		"ours":            {map[string]string{kube.AnnotationStack: stack.String(), kube.AnnotationOwner: self}, true, true, stack},
		"ours upper case": {map[string]string{kube.AnnotationStack: stack.String(), kube.AnnotationOwner: strings.ToUpper(self)}, true, true, stack},
		"another agent":   {map[string]string{kube.AnnotationStack: stack.String(), kube.AnnotationOwner: uuid.NewString()}, false, true, uuid.Nil},
		"no owner":        {map[string]string{kube.AnnotationStack: stack.String()}, false, true, uuid.Nil},
		"bad stack":       {map[string]string{kube.AnnotationStack: "web", kube.AnnotationOwner: self}, false, true, uuid.Nil},
		"unannotated":     {map[string]string{"app": "web"}, false, false, uuid.Nil},
		"owner only":      {map[string]string{kube.AnnotationOwner: self}, false, false, uuid.Nil},
	} {
		v, decided := e.judge(tc.ann)
		if v.ours != tc.ours || decided != tc.decided || v.stack != tc.wantStack {
			t.Errorf("%s: %+v decided=%v", name, v, decided)
		}
	}
}
