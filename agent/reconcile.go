package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/brokkr/brokkr/agent/internal/backoff"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/agent/workload"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

// Event statuses and type the agent reports for deployment objects.
const (
	EventDeploy  = "DEPLOY"
	EventSuccess = "SUCCESS"
	EventFailure = "FAILURE"
)

// Reconciler makes the cluster match the agent's target state.
//
// It asks the broker for the full target state (the latest object of every associated
// stack), with the entity tag of the last answer in If-None-Match, so that an unchanged one
// comes as a 304 without a body and the last answer stands for it again. It keeps an
// inventory of what it owns in the cluster, per stack: the deployment object applied, its
// checksum and the objects it consists of. The inventory is read from the cluster's
// ownership annotations at start and at every resync, so it survives restarts, and is kept
// up to date by every apply and prune in between. With it:
//   - an object whose checksum and id match the inventory costs no request at all;
//   - a new object is applied (validated first, so an invalid manifest writes nothing), and
//     the stack's objects that are not part of it any more are pruned;
//   - a deletion marker prunes everything of its stack;
//   - a stack that left the target state has its objects pruned;
//   - objects owned by another agent, or by another object (ownerReferences), are never
//     touched, and a failed target-state request changes nothing.
type Reconciler struct {
	Cluster *kube.Cluster
	Client  *client.Client
	AgentID uuid.UUID
	// Apply is used for every apply (field manager, default namespace, concurrency...).
	Apply kube.ApplyOptions
	// WatchNamespace limits the inventory scan to one namespace (namespace-scoped installs).
	WatchNamespace string
	// ResyncInterval is how often the inventory is re-read from the cluster (10 min when 0).
	ResyncInterval time.Duration
	// Log receives the reconciler's records; nil discards them.
	Log     *slog.Logger
	Metrics ReconcileMetrics
	// Report sends a deployment event; nil means POST /agents/{id}/events.
	Report func(ctx context.Context, ev client.NewAgentEvent) error
	// Tracer, when set, makes a span of every pass, the parent of the pass's requests to the
	// broker and to Kubernetes when their clients are traced (nil: no span).
	Tracer trace.Tracer
	// Health, when set, judges the health of deployment objects: a stack waits until the
	// stacks it depends on are healthy (nil: only their being applied counts).
	Health func(ctx context.Context, tracked []workload.Tracked) []client.DeploymentObjectHealthUpdate

	mu        sync.Mutex
	stacks    map[uuid.UUID]*stackState
	failures  map[uuid.UUID]*failure
	scannedAt time.Time
	last      lastTarget
	settings  map[uuid.UUID]client.StackSettings    // drift policies and dependencies
	current   map[uuid.UUID]client.DeploymentObject // latest object per stack, when applied
	waits     map[uuid.UUID]waitState               // stacks waiting for dependencies, as reported
	holds     []string                              // the broker's Brokkr-Hold headers, as last logged

	driftMu sync.Mutex
	drifts  map[uuid.UUID]driftState
}

// lastTarget is the last full target state the broker sent with an entity tag. The next
// request carries the tag in If-None-Match, and a 304 Not Modified answer stands for these
// objects again. It lives in memory only and is dropped after a failed request and when the
// broker, the key or the agent changes.
type lastTarget struct {
	from    targetSource
	etag    string
	objects []client.DeploymentObject
}

// targetSource is who a target state was asked of, and as whom.
type targetSource struct {
	broker, pak string
	agent       uuid.UUID
}

// ReconcileMetrics receives the reconciler's measurements.
type ReconcileMetrics interface {
	ObserveApply(d time.Duration, applied, unchanged, failed int)
	ObjectsPruned(n int)
	Inventory(objects, deploymentObjects int)
}

// stackState is what the agent owns of one stack.
type stackState struct {
	objectID uuid.UUID // deployment object applied; uuid.Nil when unknown (mixed)
	checksum string    // its checksum; "" when the stack's objects disagree
	objects  map[kube.Ref]bool
	// maybe holds objects of failed applies that may have reached the cluster in part (the
	// namespaces and CRDs go first): pruned with the stack, but not counted as applied.
	maybe   map[kube.Ref]bool
	applied time.Time
	// unverified is set for a stack read from the cluster's annotations: its objects carry
	// the version's checksum, but an apply interrupted part-way (a killed agent) leaves only
	// some of them. The first pass compares them with the manifest before trusting them.
	unverified bool
}

// failure remembers a deployment object that could not be applied.
type failure struct {
	message   string
	attempts  int
	retries   wait.Backoff // the waits before the next attempts
	next      time.Time
	permanent bool // the manifest itself is invalid: retrying cannot help
}

// failureRetries is the schedule of a failing deployment object's attempts: 30 s doubling to
// 10 min.
var failureRetries = backoff.Exponential(30*time.Second, 10*time.Minute)

// Result counts what one reconcile did.
type Result struct {
	Applied   int // deployment objects applied
	Unchanged int // deployment objects skipped because the cluster has them already
	Failed    int
	Pruned    int // Kubernetes objects deleted
	Skipped   int // failing objects waiting for their next attempt
	Waiting   int // deployment objects waiting for the stacks their stack depends on
	// NotModified is set when the broker answered that the target state was the one it sent
	// last (304 Not Modified); the pass worked on that one.
	NotModified bool
}

func (r *Reconciler) log() *slog.Logger { return logx.OrDiscard(r.Log) }

// Reconcile runs one pass. It returns an error when the target state could not be fetched
// or the inventory could not be read; failures of single deployment objects are reported to
// the broker as FAILURE events and counted in the result instead.
func (r *Reconciler) Reconcile(ctx context.Context) (Result, error) {
	if r.Tracer == nil {
		return r.reconcile(ctx)
	}
	ctx, span := r.Tracer.Start(ctx, "reconcile")
	defer span.End()
	res, err := r.reconcile(ctx)
	span.SetAttributes(attribute.Int("brokkr.reconcile.applied", res.Applied),
		attribute.Int("brokkr.reconcile.unchanged", res.Unchanged), attribute.Int("brokkr.reconcile.failed", res.Failed),
		attribute.Int("brokkr.reconcile.pruned", res.Pruned), attribute.Int("brokkr.reconcile.skipped", res.Skipped))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res Result
	scanned := r.scannedAt
	if err := r.scanIfDue(ctx); err != nil {
		return res, err
	}
	target, notModified, err := r.targetState(ctx)
	if err != nil {
		return res, fmt.Errorf("target state: %w", err)
	}
	res.NotModified = notModified
	if !notModified || !r.scannedAt.Equal(scanned) || len(r.waits) > 0 {
		r.refreshSettings(ctx)
	}
	start := time.Now()
	seen := make(map[uuid.UUID]bool, len(target))
	// Oldest first, so that of two objects of one stack (which the broker does not send) the
	// newest wins.
	slices.SortFunc(target, func(a, b client.DeploymentObject) int { return cmp.Compare(a.SequenceID, b.SequenceID) })
	target, latest := r.dependencyOrder(target)
	for _, obj := range target {
		seen[obj.StackID] = true
		r.reconcileObject(ctx, obj, latest, &res)
	}
	r.noteCurrent(target)
	for stackID, st := range r.stacks {
		if seen[stackID] {
			continue
		}
		n, kept, err := r.prune(ctx, stackID, st, nil)
		res.Pruned += n
		for _, k := range kept {
			r.log().Warn("stack left the target state; an object of it was kept", logx.StackID(stackID), "reason", k)
		}
		if err != nil {
			r.log().Warn("pruning a stack that left the target state", logx.StackID(stackID), logx.Err(err))
			continue
		}
		delete(r.stacks, stackID)
		r.log().Info("stack left the target state; its objects were pruned", logx.StackID(stackID), "pruned", n)
	}
	if r.Metrics != nil {
		r.Metrics.ObserveApply(time.Since(start), res.Applied, res.Unchanged, res.Failed)
		r.Metrics.ObjectsPruned(res.Pruned)
		r.Metrics.Inventory(r.inventorySize())
	}
	return res, nil
}

// targetState returns the agent's full target state, asking the broker with the entity tag of
// the last one it sent: after a 304 Not Modified the pass gets that one again, so it does
// exactly what the same body would make it do (retries, health, prunes).
func (r *Reconciler) targetState(ctx context.Context) ([]client.DeploymentObject, bool, error) {
	from := targetSource{broker: r.Client.BaseURL(), pak: r.Client.PAK(), agent: r.AgentID}
	if r.last.from != from {
		r.last = lastTarget{}
	}
	ans, err := r.Client.Agents().TargetStateIfChanged(ctx, r.AgentID, true, r.last.etag)
	if err != nil {
		r.last = lastTarget{}
		return nil, false, err
	}
	r.noteHolds(ans.Holds)
	if ans.NotModified {
		return slices.Clone(r.last.objects), true, nil
	}
	r.last = lastTarget{}
	if ans.ETag != "" {
		r.last = lastTarget{from: from, etag: ans.ETag, objects: slices.Clone(ans.Objects)}
	}
	return ans.Objects, false, nil
}

// noteHolds logs the objects the broker holds back from this agent (rollouts, apply windows)
// when they change, so that the cluster's side tells why a new object has not arrived.
func (r *Reconciler) noteHolds(holds []string) {
	if slices.Equal(holds, r.holds) {
		return
	}
	r.holds = slices.Clone(holds)
	if len(holds) == 0 {
		r.log().Info("no deployment object held back by the broker any more")
		return
	}
	for _, h := range holds {
		r.log().Info("deployment object held back by the broker", slog.String("hold", h))
	}
}

func (r *Reconciler) inventorySize() (objects, deploymentObjects int) {
	for _, st := range r.stacks {
		objects += len(st.objects)
		if st.objectID != uuid.Nil {
			deploymentObjects++
		}
	}
	return objects, deploymentObjects
}

func (r *Reconciler) reconcileObject(ctx context.Context, obj client.DeploymentObject, latest map[uuid.UUID]client.DeploymentObject, res *Result) {
	st := r.stacks[obj.StackID]
	if st != nil && st.objectID == obj.ID && st.checksum == obj.YAMLChecksum && r.complete(obj, st) {
		res.Unchanged++
		return
	}
	if f := r.failures[obj.ID]; f != nil && (f.permanent || time.Now().Before(f.next)) {
		res.Skipped++
		return
	}
	if obj.IsDeletionMarker {
		r.applyMarker(ctx, obj, st, res)
		return
	}
	if r.waiting(ctx, obj, latest) {
		res.Waiting++
		return
	}
	objs, err := kube.Parse(obj.YAMLContent)
	if err != nil {
		res.Failed++
		r.fail(ctx, obj, fmt.Errorf("invalid manifest: %w", err), true)
		return
	}
	for _, o := range objs {
		kube.SetAnnotations(o, r.annotations(obj))
	}
	opts := r.Apply
	opts.Ownership = &kube.Ownership{Owner: r.AgentID.String(), Stack: obj.StackID.String()}
	if err := r.Cluster.Apply(ctx, objs, opts); err != nil {
		var oe *kube.OwnershipError
		if errors.As(err, &oe) {
			// Objects of others are in the way: nothing was written.
			res.Failed++
			r.fail(ctx, obj, err, false)
			return
		}
		// Part of it may be in the cluster (the namespaces and CRDs go first): track those
		// objects, so they are pruned with the stack even if this version never succeeds.
		if st == nil {
			st = &stackState{objects: map[kube.Ref]bool{}}
			r.stacks[obj.StackID] = st
		}
		if st.maybe == nil {
			st.maybe = map[kube.Ref]bool{}
		}
		for _, o := range objs {
			if ref := kube.RefOf(o); !st.objects[ref] {
				st.maybe[ref] = true
			}
		}
		res.Failed++
		r.fail(ctx, obj, err, false)
		return
	}
	applied := make(map[kube.Ref]bool, len(objs))
	for _, o := range objs {
		applied[kube.RefOf(o)] = true
	}
	if st == nil {
		st = &stackState{objects: map[kube.Ref]bool{}}
		r.stacks[obj.StackID] = st
	}
	n, kept, pruneErr := r.prune(ctx, obj.StackID, st, applied)
	res.Pruned += n
	st.objectID, st.checksum, st.applied, st.unverified = obj.ID, obj.YAMLChecksum, time.Now(), false
	for ref := range applied {
		st.objects[ref] = true
	}
	if pruneErr != nil {
		// The new objects are in place; the stale ones that could not be deleted stay in the
		// inventory and are pruned at the next pass that applies or resyncs this stack.
		r.log().Warn("pruning stale objects", logx.StackID(obj.StackID), logx.Err(pruneErr))
		st.checksum = ""
	}
	delete(r.failures, obj.ID)
	res.Applied++
	msg := fmt.Sprintf("applied %d object(s)", len(objs))
	if n > 0 {
		msg += fmt.Sprintf(", pruned %d", n)
	}
	r.report(ctx, obj, EventSuccess, msg+keptNote(kept))
}

// complete reports whether the cluster holds every object of the deployment object, as the
// inventory says. A stack read from the cluster is checked against the manifest once (no
// Kubernetes request but cached discovery); one found incomplete is applied again.
func (r *Reconciler) complete(obj client.DeploymentObject, st *stackState) bool {
	if !st.unverified || obj.IsDeletionMarker {
		return true
	}
	objs, err := kube.Parse(obj.YAMLContent)
	if err != nil {
		return false
	}
	refs, err := r.Cluster.Resolve(objs, r.Apply.DefaultNamespace)
	if err != nil {
		return false
	}
	for _, ref := range refs {
		if !st.objects[ref] {
			r.log().Info("objects of an applied version are missing; applying it again",
				logx.StackID(obj.StackID), logx.DeploymentObjectID(obj.ID), logx.Object(ref))
			return false
		}
	}
	st.unverified = false
	return true
}

// applyMarker prunes everything of the marker's stack.
func (r *Reconciler) applyMarker(ctx context.Context, obj client.DeploymentObject, st *stackState, res *Result) {
	if st == nil {
		st = &stackState{objects: map[kube.Ref]bool{}}
		r.stacks[obj.StackID] = st
	}
	n, kept, err := r.prune(ctx, obj.StackID, st, nil)
	res.Pruned += n
	if err != nil {
		res.Failed++
		r.fail(ctx, obj, fmt.Errorf("deleting the stack's objects: %w", err), false)
		return
	}
	st.objectID, st.checksum, st.applied, st.unverified = obj.ID, obj.YAMLChecksum, time.Now(), false
	delete(r.failures, obj.ID)
	res.Applied++
	r.report(ctx, obj, EventSuccess, fmt.Sprintf("deletion marker: deleted %d object(s)", n)+keptNote(kept))
}

func (r *Reconciler) annotations(obj client.DeploymentObject) map[string]string {
	return map[string]string{
		kube.AnnotationStack:            obj.StackID.String(),
		kube.AnnotationChecksum:         obj.YAMLChecksum,
		kube.AnnotationDeploymentObject: obj.ID.String(),
		kube.AnnotationLastApplied:      obj.YAMLChecksum,
		kube.AnnotationOwner:            r.AgentID.String(),
	}
}

// keptNote renders the objects a prune kept for an event message.
func keptNote(kept []string) string {
	if len(kept) == 0 {
		return ""
	}
	return "; " + strings.Join(kept, "; ")
}

// prune deletes the stack's objects that are not in keep (all of them when keep is nil):
// everything else first, then CustomResourceDefinitions, then namespaces. Deleted objects
// leave the inventory. A namespace or CustomResourceDefinition whose deletion would take
// objects of others with it is kept, loses the agent's ownership annotations, leaves the
// inventory and is described in kept.
func (r *Reconciler) prune(ctx context.Context, stackID uuid.UUID, st *stackState, keep map[kube.Ref]bool) (int, []string, error) {
	if st.objects == nil {
		st.objects = map[kube.Ref]bool{}
	}
	if st.maybe == nil {
		st.maybe = map[kube.Ref]bool{}
	}
	var stale []kube.Ref
	for ref := range st.objects {
		if !keep[ref] {
			stale = append(stale, ref)
		}
	}
	for ref := range st.maybe {
		if !keep[ref] && !st.objects[ref] {
			stale = append(stale, ref)
		}
		delete(st.maybe, ref)
	}
	slices.SortFunc(stale, func(a, b kube.Ref) int {
		if c := cmp.Compare(kube.Group(b.GVK), kube.Group(a.GVK)); c != 0 {
			return c
		}
		return strings.Compare(a.String(), b.String())
	})
	var (
		errs []error
		kept []string
	)
	n := 0
	for _, ref := range stale {
		deleted, err := r.Cluster.DeleteOwned(ctx, ref, r.AgentID.String(), stackID.String(), r.Apply.Backoff.OrDefault())
		var ke *kube.KeptError
		if errors.As(err, &ke) {
			r.log().Warn("object kept instead of pruned", logx.StackID(stackID), logx.Object(ref), "reason", ke)
			kept = append(kept, ke.Error())
			delete(st.objects, ref)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", ref, err))
			if !st.objects[ref] {
				st.maybe[ref] = true // try again next time
			}
			continue
		}
		delete(st.objects, ref)
		if deleted {
			n++
		}
	}
	return n, kept, errors.Join(errs...)
}

// fail reports a FAILURE once per distinct message and schedules the next attempt with
// exponential backoff (30 s doubling to 10 min); invalid manifests are not retried.
func (r *Reconciler) fail(ctx context.Context, obj client.DeploymentObject, err error, permanent bool) {
	msg := err.Error()
	f := r.failures[obj.ID]
	if f == nil {
		f = &failure{retries: failureRetries}
		r.failures[obj.ID] = f
	}
	f.attempts++
	f.permanent = permanent
	f.next = time.Now().Add(f.retries.Step())
	r.log().Warn("deployment object failed", logx.DeploymentObjectID(obj.ID), logx.StackID(obj.StackID), "attempt", f.attempts, logx.Err(err))
	if f.message == msg {
		return
	}
	f.message = msg
	r.report(ctx, obj, EventFailure, msg)
}

func (r *Reconciler) report(ctx context.Context, obj client.DeploymentObject, status, msg string) {
	r.event(ctx, obj.ID, EventDeploy, status, msg)
}

// event sends an agent event about a deployment object; a failure to send is logged.
func (r *Reconciler) event(ctx context.Context, objectID uuid.UUID, eventType, status, msg string) {
	ev := client.NewAgentEvent{AgentID: r.AgentID, DeploymentObjectID: objectID, EventType: eventType, Status: status, Message: &msg}
	send := r.Report
	if send == nil {
		send = func(ctx context.Context, ev client.NewAgentEvent) error {
			_, err := r.Client.Agents().CreateEvent(ctx, r.AgentID, ev)
			return err
		}
	}
	if err := send(ctx, ev); err != nil {
		r.log().Warn("reporting an agent event", logx.DeploymentObjectID(objectID), "event_type", eventType, "status", status, logx.Err(err))
	}
}

// scanIfDue rebuilds the inventory from the cluster at the first pass and every
// ResyncInterval.
func (r *Reconciler) scanIfDue(ctx context.Context) error {
	every := r.ResyncInterval
	if every <= 0 {
		every = 10 * time.Minute
	}
	if r.stacks != nil && time.Since(r.scannedAt) < every {
		return nil
	}
	owned, err := r.Cluster.ListOwned(ctx, r.AgentID.String(), r.WatchNamespace)
	if err != nil {
		return fmt.Errorf("reading the owned objects: %w", err)
	}
	stacks := map[uuid.UUID]*stackState{}
	for _, o := range owned {
		stackID, err := uuid.Parse(o.StackID)
		if err != nil || o.HasOwnerReferences {
			continue
		}
		st := stacks[stackID]
		objectID, _ := uuid.Parse(o.DeploymentObjectID)
		if st == nil {
			st = &stackState{objectID: objectID, checksum: o.Checksum, objects: map[kube.Ref]bool{}, unverified: true}
			stacks[stackID] = st
		}
		if st.objectID != objectID || st.checksum != o.Checksum {
			// Objects of two versions: an apply or prune was interrupted. Forget the version
			// so the next pass applies the current one and prunes the rest.
			st.objectID, st.checksum = uuid.Nil, ""
		}
		st.objects[o.Ref] = true
	}
	// A stack whose objects were all deleted behind the agent's back loses its entry, so
	// the next pass applies it again.
	if r.failures == nil {
		r.failures = map[uuid.UUID]*failure{}
		r.waits = map[uuid.UUID]waitState{}
	}
	for id, f := range r.failures {
		if !f.permanent {
			delete(r.failures, id) // a resync retries everything now
		}
	}
	r.stacks, r.scannedAt = stacks, time.Now()
	return nil
}

// Resync makes the next pass re-read the inventory from the cluster.
func (r *Reconciler) Resync() {
	r.mu.Lock()
	r.scannedAt = time.Time{}
	r.mu.Unlock()
}

// Tracked returns the deployment objects currently applied, with their objects, for
// health checks.
func (r *Reconciler) Tracked() []workload.Tracked {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]workload.Tracked, 0, len(r.stacks))
	for _, st := range r.stacks {
		if st.objectID == uuid.Nil || len(st.objects) == 0 {
			continue
		}
		out = append(out, trackedOf(st))
	}
	slices.SortFunc(out, func(a, b workload.Tracked) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return out
}

// Namespaces returns the namespaces of the objects the agent applied for a deployment
// object (nil when it applied none). A cluster-scoped Namespace object counts as its own
// name.
func (r *Reconciler) Namespaces(objectID uuid.UUID) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, st := range r.stacks {
		if st.objectID != objectID {
			continue
		}
		for ref := range st.objects {
			ns := ref.Namespace
			if ref.GVK.Group == "" && ref.GVK.Kind == "Namespace" {
				ns = ref.Name
			}
			if ns != "" && !seen[ns] {
				seen[ns] = true
				out = append(out, ns)
			}
		}
	}
	slices.Sort(out)
	return out
}
