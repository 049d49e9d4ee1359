package telemetry

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/cache"
	coreinformers "k8s.io/client-go/informers/core/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

const (
	// VerdictTTL is how long the attribution of an involved object (a stack of the agent's,
	// or none) is trusted before the object is read again.
	VerdictTTL = 5 * time.Minute
	// DefaultEventCacheSize bounds each of the event caches when EventsOptions.CacheSize is
	// not set (agent.kube_event_uid_cache_cap's default).
	DefaultEventCacheSize = 10000
	// eventSeenTTL is how long a forwarded event is remembered to drop its duplicates:
	// longer than the apiserver's default event lifetime of one hour.
	eventSeenTTL = 2 * time.Hour
	// eventTextMax bounds the message (and reason) of a forwarded event, in bytes.
	eventTextMax = 4096
	// eventLookupTimeout bounds one metadata read of an involved object or owner.
	eventLookupTimeout = 10 * time.Second
)

// eventClock is the time source of Events (tests pass their own).
type eventClock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// EventsOptions configure Events.
type EventsOptions struct {
	Cluster *kube.Cluster
	// AgentID is the agent's id: only objects carrying it in brokkr.io/owner-id are the
	// agent's.
	AgentID uuid.UUID
	// Namespace confines the watch to one namespace (agent.watch_namespace); "" watches the
	// whole cluster.
	Namespace string
	// CacheSize bounds the attribution cache and the cache of forwarded events
	// (agent.kube_event_uid_cache_cap); DefaultEventCacheSize when 0.
	CacheSize int
	// Uplink takes the k8s_event frames.
	Uplink interface{ Offer(client.WSMessage) bool }
	Log    *slog.Logger
}

// Events forwards the Kubernetes events of the agent's stacks to the broker as k8s_event
// frames. It watches core/v1 Events (the whole cluster, or the watched namespace) with a
// shared informer, which lists, watches and re-lists with backoff after a failed watch.
//
// An event is the agent's when its involved object, or an owner up to four
// ownerReferences above it (a Pod's ReplicaSet's Deployment), carries the agent's
// annotations: k8s.brokkr.io/stack, and brokkr.io/owner-id equal to the agent's id; the
// stack is that annotation's. Objects of other agents, and objects nobody applied through
// brokkr, are not reported. Verdicts are cached per object UID (LRU of CacheSize entries,
// VerdictTTL), so a burst of events about one pod costs one read.
//
// Only events observed since Run began are sent: the informer's first list replays the
// cluster's event history, of which only what happened after the start is forwarded. An
// event the apiserver updates (a repeat: a higher count, a later last observation) is a new
// observation and is sent again; an update that changes neither (a re-list after a lost
// watch, a metadata change) is a duplicate and is dropped. Forwarded events are remembered
// per event UID in an LRU of CacheSize entries.
type Events struct {
	opts    EventsOptions
	log     *slog.Logger
	clock   eventClock
	started time.Time
	// refreshed is when discovery was last refreshed for an unknown kind (unix nanoseconds).
	refreshed atomic.Int64
	verdicts  *cache.LRUExpireCache // involved object or owner UID → verdict
	seen      *cache.LRUExpireCache // event UID → observation last forwarded
}

// NewEvents prepares the event forwarder; Run starts it.
func NewEvents(opts EventsOptions) *Events { return newEvents(opts, systemClock{}) }

func newEvents(opts EventsOptions, clk eventClock) *Events {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultEventCacheSize
	}
	return &Events{
		opts: opts, log: logx.OrDiscard(opts.Log), clock: clk, started: clk.Now(),
		verdicts: cache.NewLRUExpireCacheWithClock(opts.CacheSize, clk),
		seen:     cache.NewLRUExpireCacheWithClock(opts.CacheSize, clk),
	}
}

// Run watches events until ctx ends. Events observed before Run began are history and are
// not sent.
func (e *Events) Run(ctx context.Context) {
	e.started = e.clock.Now()
	inf := coreinformers.NewEventInformer(e.opts.Cluster.Kube, e.opts.Namespace, 0, toolscache.Indexers{})
	// The informer keeps every event of its scope in memory: keep only what a frame needs.
	_ = inf.SetTransform(slimEvent)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *toolscache.Reflector, err error) {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			e.log.Debug("kubernetes event watch expired; listing again", logx.Err(err))
			return
		}
		e.log.Warn("kubernetes event watch failed; retrying with backoff", logx.Err(err), "namespace", e.opts.Namespace)
	})
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(obj any, initial bool) { e.observe(ctx, obj, initial) },
		UpdateFunc: func(_, obj any) { e.observe(ctx, obj, false) },
	}); err != nil {
		e.log.Error("kubernetes event forwarding disabled", logx.Err(err))
		return
	}
	e.log.Debug("forwarding kubernetes events", "namespace", e.opts.Namespace)
	inf.RunWithContext(ctx)
}

// slimEvent drops the parts of an event that no frame carries before the informer stores it.
func slimEvent(obj any) (any, error) {
	if ev, ok := obj.(*corev1.Event); ok {
		ev.ManagedFields, ev.Annotations, ev.Labels, ev.OwnerReferences, ev.Related = nil, nil, nil, nil, nil
	}
	return obj, nil
}

// observation is when an event was last seen happening, and how often.
type observation struct {
	at    time.Time
	count int32
}

// newer reports whether o records more than prev: a later observation or a higher count.
func (o observation) newer(prev observation) bool {
	return o.at.After(prev.at) || o.count > prev.count
}

// eventObservation reads an event's last observation: series.lastObservedTime, else
// eventTime, else lastTimestamp, else firstTimestamp, else its creation (events written
// through events.k8s.io/v1 carry eventTime and series; older ones lastTimestamp and count).
func eventObservation(ev *corev1.Event) observation {
	o := observation{count: ev.Count}
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		o.at = ev.Series.LastObservedTime.Time
	case !ev.EventTime.IsZero():
		o.at = ev.EventTime.Time
	case !ev.LastTimestamp.IsZero():
		o.at = ev.LastTimestamp.Time
	case !ev.FirstTimestamp.IsZero():
		o.at = ev.FirstTimestamp.Time
	default:
		o.at = ev.CreationTimestamp.Time
	}
	if ev.Series != nil && ev.Series.Count > o.count {
		o.count = ev.Series.Count
	}
	return o
}

// observe handles one event the informer delivered; initial marks the informer's first list.
func (e *Events) observe(ctx context.Context, obj any, initial bool) {
	ev, ok := obj.(*corev1.Event)
	if !ok || ev.InvolvedObject.UID == "" {
		return
	}
	o := eventObservation(ev)
	if o.at.IsZero() {
		o.at = e.clock.Now()
	}
	// History from before the start is not sent. Most timestamps of events have whole
	// seconds: an event of the start's second is not history.
	if initial && o.at.Before(e.started.Truncate(time.Second)) {
		return
	}
	if e.duplicate(ev.UID, o) {
		return
	}
	ref := involvedRef(ev)
	stack, ours := e.attribute(ctx, ref)
	if !ours {
		return
	}
	m, err := client.NewWSMessage(client.WSK8sEvent, e.frame(ev, stack, o.at))
	if err != nil {
		e.log.Warn("kubernetes event not forwarded", logx.Err(err))
		return
	}
	e.seen.Add(ev.UID, o, eventSeenTTL)
	e.opts.Uplink.Offer(m)
}

// duplicate reports whether the event was forwarded already with this observation or a
// later one.
func (e *Events) duplicate(uid types.UID, o observation) bool {
	prev, ok := e.seen.Get(uid)
	return ok && !o.newer(prev.(observation))
}

// frame builds the k8s_event body.
func (e *Events) frame(ev *corev1.Event, stack uuid.UUID, at time.Time) client.K8sEvent {
	eventType := ev.Type
	if eventType == "" {
		eventType = corev1.EventTypeNormal
	}
	var source *string
	if s := ev.Source.Component; s != "" {
		source = &s
	} else if s := ev.ReportingController; s != "" {
		source = &s
	}
	io := ev.InvolvedObject
	ref := client.K8sObjectRef{APIVersion: io.APIVersion, Kind: io.Kind, Name: io.Name}
	if io.Namespace != "" {
		ns := io.Namespace
		ref.Namespace = &ns
	}
	uid := string(io.UID)
	ref.UID = &uid
	return client.K8sEvent{
		AgentID: e.opts.AgentID, StackID: stack, ObservedAt: at.UTC(),
		Reason: eventText(ev.Reason), Message: eventText(ev.Message), EventType: eventType,
		Source: source, InvolvedObject: ref,
	}
}

// eventText makes event text storable and bounded: NUL bytes removed (PostgreSQL text
// refuses them), cut to eventTextMax bytes on a character boundary.
func eventText(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= eventTextMax {
		return s
	}
	cut := eventTextMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
