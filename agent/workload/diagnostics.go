package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/client"
)

// Limits bound a diagnostics result. A field that is zero or negative takes its default.
type Limits struct {
	// MaxEvents is the number of namespace events kept, the most recent first (50).
	MaxEvents int
	// LogLines is the number of log lines fetched per container (100).
	LogLines int64
	// MaxLogBytesPerContainer caps the log text fetched per container (64 KiB).
	MaxLogBytesPerContainer int
	// MaxPods caps the pods reported, by namespace and name (100).
	MaxPods int
	// MaxTotalBytes caps the JSON body of the whole result (4 MiB); log tails are cut to fit.
	MaxTotalBytes int
}

// DefaultLimits returns the default bounds of a diagnostics result.
func DefaultLimits() Limits {
	return Limits{MaxEvents: 50, LogLines: 100, MaxLogBytesPerContainer: 64 << 10, MaxPods: 100, MaxTotalBytes: 4 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEvents <= 0 {
		l.MaxEvents = d.MaxEvents
	}
	if l.LogLines <= 0 {
		l.LogLines = d.LogLines
	}
	if l.MaxLogBytesPerContainer <= 0 {
		l.MaxLogBytesPerContainer = d.MaxLogBytesPerContainer
	}
	if l.MaxPods <= 0 {
		l.MaxPods = d.MaxPods
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	return l
}

// Reasons of the notes Collect adds to the events (type Warning, involved object the
// namespace) about what it could not collect.
const (
	NoteNamespaceNotWatched = "BrokkrNamespaceNotWatched"
	NoteCollectionFailed    = "BrokkrCollectionFailed"
	NotePodsTruncated       = "BrokkrPodsTruncated"
	NoteLogTailsTruncated   = "BrokkrLogTailsTruncated"
)

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// podStatus converts a pod to its diagnostics form. Init containers are not listed; a
// container with no reported state yet is waiting.
func podStatus(pod *corev1.Pod) client.DiagnosticPod {
	ps := client.DiagnosticPod{
		Name: pod.Name, Namespace: pod.Namespace, Phase: string(pod.Status.Phase),
		Conditions: []client.DiagnosticPodCondition{}, Containers: []client.DiagnosticContainer{},
	}
	if ps.Phase == "" {
		ps.Phase = string(corev1.PodUnknown)
	}
	for _, c := range pod.Status.Conditions {
		ps.Conditions = append(ps.Conditions, client.DiagnosticPodCondition{
			ConditionType: string(c.Type), Status: string(c.Status), Reason: strPtr(c.Reason), Message: strPtr(c.Message),
		})
	}
	reported := map[string]bool{}
	for _, cs := range pod.Status.ContainerStatuses {
		reported[cs.Name] = true
		c := client.DiagnosticContainer{Name: cs.Name, Ready: cs.Ready, RestartCount: cs.RestartCount, State: client.ContainerWaiting}
		switch st := cs.State; {
		case st.Running != nil:
			c.State = client.ContainerRunning
			if !st.Running.StartedAt.IsZero() {
				c.StateMessage = strPtr("Started at " + st.Running.StartedAt.UTC().Format(time.RFC3339))
			}
		case st.Terminated != nil:
			c.State = client.ContainerTerminated
			c.StateReason, c.StateMessage = strPtr(st.Terminated.Reason), strPtr(st.Terminated.Message)
		case st.Waiting != nil:
			c.StateReason, c.StateMessage = strPtr(st.Waiting.Reason), strPtr(st.Waiting.Message)
		}
		ps.Containers = append(ps.Containers, c)
	}
	// Containers the kubelet has not reported on yet (an unscheduled pod) are waiting.
	for _, sc := range pod.Spec.Containers {
		if !reported[sc.Name] {
			ps.Containers = append(ps.Containers, client.DiagnosticContainer{Name: sc.Name, State: client.ContainerWaiting})
		}
	}
	return ps
}

// eventTimes returns when ev was first and last seen.
func eventTimes(ev *corev1.Event) (first, last time.Time) {
	last = ev.LastTimestamp.Time
	if ev.Series != nil && ev.Series.LastObservedTime.After(last) {
		last = ev.Series.LastObservedTime.Time
	}
	if ev.EventTime.After(last) {
		last = ev.EventTime.Time
	}
	first = ev.FirstTimestamp.Time
	if first.IsZero() {
		first = ev.EventTime.Time
	}
	if last.IsZero() {
		last = first
	}
	if last.IsZero() {
		last = ev.CreationTimestamp.Time
	}
	if first.IsZero() {
		first = last
	}
	return first.UTC(), last.UTC()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// eventInfo converts an event to its diagnostics form. Its last timestamp is when the event
// was last seen: lastTimestamp, else series.lastObservedTime or eventTime, else
// firstTimestamp, else the creation time.
func eventInfo(ev *corev1.Event) (client.DiagnosticEvent, time.Time) {
	first, last := eventTimes(ev)
	count := ev.Count
	if ev.Series != nil && ev.Series.Count > count {
		count = ev.Series.Count
	}
	if count == 0 {
		count = 1
	}
	name := ev.InvolvedObject.Name
	if name == "" {
		name = "unknown"
	}
	return client.DiagnosticEvent{
		EventType: strPtr(ev.Type), Reason: strPtr(ev.Reason), Message: strPtr(ev.Message),
		InvolvedObject: name, InvolvedObjectKind: strPtr(ev.InvolvedObject.Kind),
		FirstTimestamp: timePtr(first), LastTimestamp: timePtr(last), Count: &count,
	}, last
}

// timedEvent is an event with what it is sorted by.
type timedEvent struct {
	info      client.DiagnosticEvent
	last      time.Time
	namespace string
	name      string
}

// sortEvents orders events by last-seen time, newest first (ties by namespace and name, for
// a stable order).
func sortEvents(evs []timedEvent) {
	sort.SliceStable(evs, func(a, b int) bool {
		if !evs[a].last.Equal(evs[b].last) {
			return evs[a].last.After(evs[b].last)
		}
		if evs[a].namespace != evs[b].namespace {
			return evs[a].namespace < evs[b].namespace
		}
		return evs[a].name < evs[b].name
	})
}

func note(reason, namespace, message string, at time.Time) client.DiagnosticEvent {
	one := int32(1)
	return client.DiagnosticEvent{
		EventType: strPtr(corev1.EventTypeWarning), Reason: strPtr(reason), Message: strPtr(message),
		InvolvedObject: namespace, InvolvedObjectKind: strPtr("Namespace"),
		FirstTimestamp: &at, LastTimestamp: &at, Count: &one,
	}
}

// logFetchConcurrency bounds the concurrent log requests of one collection; logFetchTimeout
// bounds each of them.
const (
	logFetchConcurrency = 4
	logFetchTimeout     = 20 * time.Second
)

// Collect gathers diagnostics about deployment object objectID in namespaces ("default"
// when none is given):
//   - pod_statuses: the pods of those namespaces attributed to objectID (as for Health),
//     ordered by namespace and name, at most lim.MaxPods;
//   - events: every event of those namespaces, newest first by last-seen time, at most
//     lim.MaxEvents; notes (reason Brokkr...) about namespaces outside WatchNamespace,
//     failed lists and pods left out come first;
//   - log_tails: the last lim.LogLines lines (at most lim.MaxLogBytesPerContainer bytes,
//     which the kubelet counts from the start of those lines) of every container and init
//     container of those pods, keyed "<pod>/<container>" ("<namespace>/<pod>/<container>"
//     when a pod name occurs in several namespaces); a failed fetch is stored as
//     "Error: <error>"; nil when no pod was found.
//
// The JSON body of the result never exceeds lim.MaxTotalBytes: log tails are cut to share
// the space left fairly, each keeping its end under a "[truncated: ...]" first line (or
// emptied when not even that line fits), and a note (BrokkrLogTailsTruncated) heads the
// events if there is room for it; only if that is not enough are events, then pods, dropped. An error is returned when
// nothing could be listed at all, or when even an empty result does not fit.
func (i *Inspector) Collect(ctx context.Context, objectID uuid.UUID, namespaces []string, lim Limits) (client.SubmitDiagnosticResult, error) {
	lim = lim.withDefaults()
	now := time.Now().UTC()
	if len(namespaces) == 0 {
		namespaces = []string{"default"}
	}
	var (
		notes    []client.DiagnosticEvent
		pods     []*corev1.Pod
		events   []timedEvent
		attempts int
		failures int
		lastErr  error
	)
	attr := i.newAttributor(nil)
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		if !i.watches(ns) {
			notes = append(notes, note(NoteNamespaceNotWatched, ns,
				fmt.Sprintf("namespace %s is outside the agent's watch namespace %s; not collected", ns, i.WatchNamespace), now))
			continue
		}
		attempts += 2
		pl, err := i.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			failures, lastErr = failures+1, err
			notes = append(notes, note(NoteCollectionFailed, ns, "list pods: "+err.Error(), now))
		} else {
			for n := range pl.Items {
				pod := &pl.Items[n]
				if id, ok := attr.objectID(ctx, pod); ok && id == objectID {
					pods = append(pods, pod)
				}
			}
		}
		el, err := i.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			failures, lastErr = failures+1, err
			notes = append(notes, note(NoteCollectionFailed, ns, "list events: "+err.Error(), now))
		} else {
			for n := range el.Items {
				ev := &el.Items[n]
				info, last := eventInfo(ev)
				events = append(events, timedEvent{info: info, last: last, namespace: ev.Namespace, name: ev.Name})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return client.SubmitDiagnosticResult{}, fmt.Errorf("collect diagnostics: %w", err)
	}
	if attempts > 0 && failures == attempts {
		return client.SubmitDiagnosticResult{}, fmt.Errorf("collect diagnostics: nothing could be listed in %v: %w", namespaces, lastErr)
	}

	sort.Slice(pods, func(a, b int) bool {
		if pods[a].Namespace != pods[b].Namespace {
			return pods[a].Namespace < pods[b].Namespace
		}
		return pods[a].Name < pods[b].Name
	})
	if len(pods) > lim.MaxPods {
		notes = append(notes, note(NotePodsTruncated, pods[lim.MaxPods].Namespace,
			fmt.Sprintf("%d pods found, only the first %d are reported", len(pods), lim.MaxPods), now))
		pods = pods[:lim.MaxPods]
	}
	statuses := make([]client.DiagnosticPod, 0, len(pods))
	for _, p := range pods {
		statuses = append(statuses, podStatus(p))
	}

	sortEvents(events)
	if len(events) > lim.MaxEvents {
		events = events[:lim.MaxEvents]
	}
	infos := make([]client.DiagnosticEvent, 0, len(notes)+len(events))
	infos = append(infos, notes...)
	for _, e := range events {
		infos = append(infos, e.info)
	}

	var logs map[string]string
	if len(pods) > 0 {
		logs = i.logTails(ctx, pods, lim)
	}
	logsNote := note(NoteLogTailsTruncated, namespaces[0],
		fmt.Sprintf("log tails were cut to keep the result within %d bytes", lim.MaxTotalBytes), now)
	res, err := fitResult(statuses, infos, logs, logsNote, now, lim.MaxTotalBytes)
	if err != nil {
		return client.SubmitDiagnosticResult{}, fmt.Errorf("collect diagnostics: %w", err)
	}
	return res, nil
}

// logTails fetches the log tail of every container of pods.
func (i *Inspector) logTails(ctx context.Context, pods []*corev1.Pod, lim Limits) map[string]string {
	names := map[string]int{}
	for _, p := range pods {
		names[p.Name]++
	}
	type job struct{ key, namespace, pod, container string }
	var jobs []job
	for _, p := range pods {
		prefix := p.Name
		if names[p.Name] > 1 {
			prefix = p.Namespace + "/" + p.Name
		}
		for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for _, c := range cs {
				jobs = append(jobs, job{key: prefix + "/" + c.Name, namespace: p.Namespace, pod: p.Name, container: c.Name})
			}
		}
	}
	out := make(map[string]string, len(jobs))
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, logFetchConcurrency)
	)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			text, err := i.logTail(ctx, j.namespace, j.pod, j.container, lim)
			if err != nil {
				text = "Error: " + err.Error()
			}
			mu.Lock()
			out[j.key] = text
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// logTail fetches the last lim.LogLines lines of one container, at most
// lim.MaxLogBytesPerContainer bytes; a cut tail ends with a "[truncated ...]" line.
func (i *Inspector) logTail(ctx context.Context, namespace, pod, container string, lim Limits) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, logFetchTimeout)
	defer cancel()
	maxBytes := int64(lim.MaxLogBytesPerContainer)
	limit := maxBytes + 1 // one byte more tells whether the tail was cut
	tail := lim.LogLines
	stream, err := i.Kube.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, TailLines: &tail, LimitBytes: &limit,
	}).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer stream.Close()
	b, err := io.ReadAll(io.LimitReader(stream, limit))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > maxBytes {
		return string(b[:maxBytes]) + fmt.Sprintf("\n[truncated: the log tail exceeded %d bytes]", maxBytes), nil
	}
	return string(b), nil
}

// encodeResult builds the result and the size of its JSON body.
func encodeResult(statuses []client.DiagnosticPod, events []client.DiagnosticEvent, logs map[string]string, at time.Time) (client.SubmitDiagnosticResult, int, error) {
	res := client.SubmitDiagnosticResult{CollectedAt: at}
	b, err := json.Marshal(statuses)
	if err != nil {
		return res, 0, fmt.Errorf("encode pod statuses: %w", err)
	}
	res.PodStatuses = string(b)
	if b, err = json.Marshal(events); err != nil {
		return res, 0, fmt.Errorf("encode events: %w", err)
	}
	res.Events = string(b)
	if logs != nil {
		if b, err = json.Marshal(logs); err != nil {
			return res, 0, fmt.Errorf("encode log tails: %w", err)
		}
		s := string(b)
		res.LogTails = &s
	}
	body, err := json.Marshal(res)
	if err != nil {
		return res, 0, fmt.Errorf("encode result: %w", err)
	}
	return res, len(body), nil
}

// fitResult builds a result whose JSON body is at most maxBytes bytes, cutting log tails first
// (logsNote then heads the events when there is room for it), then dropping events from the
// oldest and pods from the last.
func fitResult(statuses []client.DiagnosticPod, events []client.DiagnosticEvent, logs map[string]string, logsNote client.DiagnosticEvent, at time.Time, maxBytes int) (client.SubmitDiagnosticResult, error) {
	res, size, err := encodeResult(statuses, events, logs, at)
	if err != nil || size <= maxBytes {
		return res, err
	}
	// The body without any log entry must fit first; the note about cut log tails goes in
	// when there is room for it.
	var empty map[string]string
	if logs != nil {
		empty = map[string]string{}
	}
	if len(logs) > 0 {
		withNote := append([]client.DiagnosticEvent{logsNote}, events...)
		if _, base, err := encodeResult(statuses, withNote, empty, at); err == nil && base <= maxBytes {
			events = withNote
		}
	}
	for {
		_, base, err := encodeResult(statuses, events, empty, at)
		if err != nil {
			return res, err
		}
		if base <= maxBytes {
			logs = fitLogs(logs, maxBytes-base)
			break
		}
		switch {
		case len(events) > 0:
			events = events[:len(events)-1]
		case len(statuses) > 0:
			statuses = statuses[:len(statuses)-1]
		default:
			return res, fmt.Errorf("an empty result (%d bytes) exceeds the size limit of %d bytes", base, maxBytes)
		}
	}
	res, size, err = encodeResult(statuses, events, logs, at)
	if err != nil {
		return res, err
	}
	if size > maxBytes { // cannot happen when entryCost is exact; never send an oversized body
		res, size, err = encodeResult(statuses, events, empty, at)
		if err == nil && size > maxBytes {
			err = fmt.Errorf("result of %d bytes exceeds the size limit of %d bytes", size, maxBytes)
		}
	}
	return res, err
}
