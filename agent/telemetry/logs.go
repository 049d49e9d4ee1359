package telemetry

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

// AnnotationStreamLogs on a pod, set to "true", opts its containers in to log streaming.
const AnnotationStreamLogs = "brokkr.io/stream-logs"

// Limits of pod log streaming.
const (
	// LogLineMax is the longest line sent, in bytes: a longer line is cut on a character
	// boundary and ends with " [… N bytes cut]".
	LogLineMax = 16 << 10
	// LogLinesPerSecond is how many lines one container may send per second; the rest of
	// the second is counted and reported as one rate_limit log_gap.
	LogLinesPerSecond = 100
	// MaxLogFollowers bounds the containers followed at once (one log stream each); the
	// containers beyond wait for a free place.
	MaxLogFollowers = 200
	// logRetryMin and logRetryMax bound the wait before a log stream is opened again.
	logRetryMin = 2 * time.Second
	logRetryMax = time.Minute
	// replacedGrace is how long the follower of a container run that was replaced by a
	// newer one (a restart) may still read the end of its log.
	replacedGrace = 5 * time.Second
	// attributionRetries is how often a pod that opted in but could not be attributed to a
	// stack is looked at again (1 s, 2 s, 4 s, ... later) before its next change: an owner
	// lookup may have failed for a passing reason.
	attributionRetries = 5
	logWorkers         = 2
)

// LogMetrics counts what pod log streaming does. *httpserver.PodLogMetrics implements it.
type LogMetrics interface {
	LogLinesSent(n int)
	// LogLinesDropped counts lines not sent, by log_gap reason.
	LogLinesDropped(reason string, n int)
	LogLineCut()
	LogFollowers(active, waiting int)
}

type nopLogMetrics struct{}

func (nopLogMetrics) LogLinesSent(int)            {}
func (nopLogMetrics) LogLinesDropped(string, int) {}
func (nopLogMetrics) LogLineCut()                 {}
func (nopLogMetrics) LogFollowers(int, int)       {}

// stackAttributor finds the agent's stack an object belongs to through its owners
// (*Events does, with its cache).
type stackAttributor interface {
	attribute(ctx context.Context, ref objectRef) (uuid.UUID, bool)
}

// LogsOptions configure Logs.
type LogsOptions struct {
	// Kube watches pods and reads their logs.
	Kube kubernetes.Interface
	// AgentID is the agent's id, sent in every frame.
	AgentID uuid.UUID
	// Namespace confines the pod watch to one namespace (agent.watch_namespace); "" watches
	// the whole cluster.
	Namespace string
	// Uplink takes the pod_log_line and log_gap frames.
	Uplink interface{ Offer(client.WSMessage) bool }
	// Connected reports whether the WebSocket channel is up: lines the uplink refuses are
	// reported as a disconnected gap while it is down, a buffer_full gap while it is up. Nil
	// means always up.
	Connected func() bool
	// Owners attributes pods that opted in without a stack annotation of their own through
	// their owners (a Deployment's pods through their ReplicaSet): the event forwarder
	// (*Events) does, with its cache. Nil: only pods annotated with their stack are followed.
	Owners stackAttributor
	// Metrics may be nil.
	Metrics LogMetrics
	Log     *slog.Logger
}

// Logs streams the output of the pods that opted in to the broker as pod_log_line frames.
//
// A pod opted in when it carries the annotation brokkr.io/stream-logs: "true". Its stack is
// its own k8s.brokkr.io/stack annotation, else (with Owners) that of the first of its owners
// (up to four ownerReferences above it) carrying one, when that owner also carries this
// agent's brokkr.io/owner-id; any other pod is not followed. Every container (and init
// container) is followed from the start of its run by a log stream of its own, at most
// MaxLogFollowers at once; a run that started before Logs ran is followed from that moment,
// so an agent restart sends nothing twice. A restarted container is a new run, followed from
// its beginning. (A stream that breaks at the very moment its container restarts may be
// reopened on the new run before the pod's status shows it; the wait before a reopen makes
// this unlikely.)
//
// Lines are cut at LogLineMax bytes and limited to LogLinesPerSecond per container; lines
// dropped (over the rate, or refused by a full uplink) are reported in log_gap frames with
// their count and the timestamp of the first.
type Logs struct {
	opts    LogsOptions
	log     *slog.Logger
	metrics LogMetrics
	started time.Time
	store   toolscache.Store
	queue   workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	pods    map[string]*podLogs // by namespace/name
	active  int
	waiting map[string]bool // pods with containers waiting for a free place
	wg      sync.WaitGroup

	// Limits and the log source; tests change them.
	lineMax, perSecond, maxFollowers int
	retryMin, retryMax, grace        time.Duration
	open                             func(ctx context.Context, namespace, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error)
	now                              func() time.Time
}

// podLogs is the followers of one pod.
type podLogs struct {
	uid     types.UID
	stack   uuid.UUID
	running map[string]*running // by container name and run identity
	done    map[string]bool     // runs read to their end
}

type running struct {
	cancel    context.CancelFunc
	container string
	identity  string
	retiring  bool
}

// NewLogs prepares pod log streaming; Run starts it.
func NewLogs(opts LogsOptions) *Logs {
	l := &Logs{
		opts: opts, log: logx.OrDiscard(opts.Log), metrics: opts.Metrics,
		pods: map[string]*podLogs{}, waiting: map[string]bool{},
		lineMax: LogLineMax, perSecond: LogLinesPerSecond, maxFollowers: MaxLogFollowers,
		retryMin: logRetryMin, retryMax: logRetryMax, grace: replacedGrace, now: time.Now,
	}
	if l.metrics == nil {
		l.metrics = nopLogMetrics{}
	}
	l.open = func(ctx context.Context, namespace, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
		return l.opts.Kube.CoreV1().Pods(namespace).GetLogs(pod, o).Stream(ctx)
	}
	return l
}

// Run watches pods and follows the containers of those that opted in until ctx ends.
func (l *Logs) Run(ctx context.Context) {
	l.started = l.now()
	l.queue = workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute))
	inf := coreinformers.NewPodInformer(l.opts.Kube, l.opts.Namespace, 0, toolscache.Indexers{})
	_ = inf.SetTransform(slimPod)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *toolscache.Reflector, err error) {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		l.log.Warn("pod watch for log streaming failed; retrying with backoff", logx.Err(err), "namespace", l.opts.Namespace)
	})
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if optedIn(obj) {
				l.enqueue(obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			if optedIn(old) || optedIn(obj) {
				l.enqueue(obj)
			}
		},
		DeleteFunc: l.enqueue,
	}); err != nil {
		l.log.Error("pod log streaming disabled", logx.Err(err))
		return
	}
	l.store = inf.GetStore()
	var loops sync.WaitGroup
	loops.Go(func() { inf.RunWithContext(ctx) })
	if toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		l.log.Debug("streaming the logs of pods that opted in", "namespace", l.opts.Namespace)
		for range logWorkers {
			loops.Go(func() {
				for l.next(ctx) {
				}
			})
		}
	}
	<-ctx.Done()
	l.queue.ShutDown()
	loops.Wait()
	l.mu.Lock()
	for key := range l.pods {
		l.stopPod(key)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *Logs) enqueue(obj any) {
	if key, err := toolscache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		l.queue.Add(key)
	}
}

// optedIn reports whether obj is a pod annotated brokkr.io/stream-logs: "true".
func optedIn(obj any) bool {
	pod, ok := obj.(*corev1.Pod)
	return ok && pod.Annotations[AnnotationStreamLogs] == "true"
}

// slimPod keeps what log streaming reads of a pod before the informer stores it: the pods
// of the whole cluster are held in memory, most of them as a bare name.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
	}}
	if !optedIn(pod) {
		return slim, nil
	}
	slim.Annotations = map[string]string{AnnotationStreamLogs: "true"}
	if s, ok := pod.Annotations[kube.AnnotationStack]; ok {
		slim.Annotations[kube.AnnotationStack] = s
	}
	slim.OwnerReferences = pod.OwnerReferences
	slim.Status.ContainerStatuses = slimStatuses(pod.Status.ContainerStatuses)
	slim.Status.InitContainerStatuses = slimStatuses(pod.Status.InitContainerStatuses)
	return slim, nil
}

func slimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, len(in))
	for i, cs := range in {
		out[i] = corev1.ContainerStatus{Name: cs.Name, ContainerID: cs.ContainerID, RestartCount: cs.RestartCount, State: cs.State}
	}
	return out
}

// next syncs one queued pod; it reports false once the queue shut down.
func (l *Logs) next(ctx context.Context) bool {
	key, quit := l.queue.Get()
	if quit {
		return false
	}
	defer l.queue.Done(key)
	if l.sync(ctx, key) {
		l.queue.Forget(key)
	} else if l.queue.NumRequeues(key) < attributionRetries {
		l.queue.AddRateLimited(key)
	}
	return true
}

// sync starts and stops the followers of one pod to match what the store holds. It reports
// false when the pod opted in but could not be attributed to a stack.
func (l *Logs) sync(ctx context.Context, key string) bool {
	obj, exists, _ := l.store.GetByKey(key)
	pod, _ := obj.(*corev1.Pod)
	if !exists || pod == nil || !optedIn(pod) {
		l.mu.Lock()
		l.stopPod(key)
		l.mu.Unlock()
		return true
	}
	stack, ok := l.stackOf(ctx, pod)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.waiting, key) // added again below while it still waits
	p := l.pods[key]
	if p != nil && (p.uid != pod.UID || p.stack != stack || !ok) {
		l.stopPod(key) // another pod of the same name, or it left its stack
		p = nil
	}
	if !ok {
		return false
	}
	if p == nil {
		p = &podLogs{uid: pod.UID, stack: stack, running: map[string]*running{}, done: map[string]bool{}}
		l.pods[key] = p
	}
	for _, cs := range containerStatuses(pod) {
		l.syncContainer(key, pod, p, cs)
	}
	l.reportFollowers()
	return true
}

// containerStatuses returns the statuses of a pod's init containers and containers.
func containerStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(pod.Status.InitContainerStatuses)+len(pod.Status.ContainerStatuses))
	return append(append(out, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
}

// syncContainer starts a follower for the current run of one container, unless it has one,
// was read to its end, or has not started; followers of its earlier runs are retired.
func (l *Logs) syncContainer(key string, pod *corev1.Pod, p *podLogs, cs corev1.ContainerStatus) {
	id, startedAt, ended := runOf(cs)
	if id == "" {
		return
	}
	name := cs.Name + "/" + id
	for _, r := range p.running {
		if r.container == cs.Name && r.identity != id && !r.retiring {
			r.retiring = true
			time.AfterFunc(l.grace, r.cancel)
		}
	}
	if p.running[name] != nil || p.done[name] {
		return
	}
	if ended != nil && ended.Before(l.started.Truncate(time.Second)) {
		p.done[name] = true // over before the agent started: nothing new to read
		return
	}
	if l.active >= l.maxFollowers {
		l.waiting[key] = true
		return
	}
	ref := containerRef{namespace: pod.Namespace, pod: pod.Name, container: cs.Name, uid: pod.UID, identity: id}
	f := newFollower(l, ref, p.stack)
	// Start times have whole seconds: a run of the agent's first second is read whole.
	if startedAt.Before(l.started.Truncate(time.Second)) {
		f.pos = cursor{ts: l.started}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, container: cs.Name, identity: id}
	p.running[name] = r
	l.active++
	l.wg.Go(func() {
		f.run(ctx)
		cancel()
		l.finished(key, p, name, r, ctx.Err() == nil)
	})
}

// runOf returns the identity of a container's current run ("" when it has not started),
// when it started and, when it ended, when.
func runOf(cs corev1.ContainerStatus) (id string, startedAt time.Time, ended *time.Time) {
	switch {
	case cs.State.Running != nil:
		startedAt = cs.State.Running.StartedAt.Time
	case cs.State.Terminated != nil:
		startedAt = cs.State.Terminated.StartedAt.Time
		t := cs.State.Terminated.FinishedAt.Time
		ended = &t
	default:
		return "", time.Time{}, nil
	}
	id = cs.ContainerID
	if id == "" {
		id = "restart-" + strconv.Itoa(int(cs.RestartCount))
	}
	return id, startedAt, ended
}

// finished forgets a follower that ended; a run it read to its end is not followed again.
// Pods waiting for a free place are looked at again.
func (l *Logs) finished(key string, p *podLogs, name string, r *running, natural bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
	if p.running[name] == r {
		delete(p.running, name)
		if natural || r.retiring {
			p.done[name] = true
		}
	}
	for k := range l.waiting {
		l.queue.Add(k)
	}
	clear(l.waiting)
	l.reportFollowers()
}

// stopPod stops every follower of a pod; l.mu is held.
func (l *Logs) stopPod(key string) {
	if p := l.pods[key]; p != nil {
		for _, r := range p.running {
			r.cancel()
		}
		delete(l.pods, key)
	}
	delete(l.waiting, key)
	l.reportFollowers()
}

func (l *Logs) reportFollowers() { l.metrics.LogFollowers(l.active, len(l.waiting)) }

// stackOf returns the stack a pod that opted in streams to: its own annotation, else the
// stack of the agent's object among its owners (up to four above it).
func (l *Logs) stackOf(ctx context.Context, pod *corev1.Pod) (uuid.UUID, bool) {
	if s, ok := pod.Annotations[kube.AnnotationStack]; ok {
		id, err := uuid.Parse(s)
		return id, err == nil
	}
	if len(pod.OwnerReferences) == 0 || l.opts.Owners == nil {
		return uuid.Nil, false
	}
	// From the pod itself, so that its verdict is shared with the events about it.
	return l.opts.Owners.attribute(ctx, objectRef{apiVersion: "v1", kind: "Pod", namespace: pod.Namespace, name: pod.Name, uid: pod.UID})
}

// runState is what the store says of a followed container run.
type runState int

const (
	runRunning runState = iota
	runEnded
	runReplaced
	runGone
)

// status looks a followed run up in the store.
func (l *Logs) status(ref containerRef) runState {
	obj, exists, _ := l.store.GetByKey(ref.namespace + "/" + ref.pod)
	pod, _ := obj.(*corev1.Pod)
	if !exists || pod == nil || pod.UID != ref.uid || !optedIn(pod) {
		return runGone
	}
	for _, cs := range containerStatuses(pod) {
		if cs.Name != ref.container {
			continue
		}
		id, _, ended := runOf(cs)
		switch {
		case id == "":
			return runEnded // waiting to start again: the run followed is over
		case id != ref.identity:
			return runReplaced
		case ended != nil:
			return runEnded
		default:
			return runRunning
		}
	}
	return runGone
}
