package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/internal/logx"
)

// eventOwnerHops is how many ownerReferences above an involved object are followed to find
// the agent's object (a Pod's ReplicaSet's Deployment is two).
const eventOwnerHops = 4

// verdict is the attribution of one object: the agent's stack it belongs to, if any.
type verdict struct {
	stack uuid.UUID
	ours  bool
}

// objectRef names an object an event is about, or an owner of it.
type objectRef struct {
	apiVersion, kind, namespace, name string
	uid                               types.UID
}

func (r objectRef) String() string {
	if r.namespace == "" {
		return r.apiVersion + " " + r.kind + " " + r.name
	}
	return r.apiVersion + " " + r.kind + " " + r.namespace + "/" + r.name
}

func involvedRef(ev *corev1.Event) objectRef {
	io := ev.InvolvedObject
	return objectRef{apiVersion: io.APIVersion, kind: io.Kind, namespace: io.Namespace, name: io.Name, uid: io.UID}
}

// errUnattributable marks a lookup whose answer will not change: the object is gone or was
// replaced, its kind is unknown, or the agent may not read it.
var errUnattributable = errors.New("object cannot be attributed")

// attribute returns the stack of the agent's that ref belongs to. The verdict is cached for
// ref and every owner read on the way; a lookup that failed for a passing reason (the
// apiserver unavailable) is not cached, and the event is not sent. It is safe for concurrent
// use.
func (e *Events) attribute(ctx context.Context, ref objectRef) (uuid.UUID, bool) {
	var walked []types.UID
	v, err := e.walk(ctx, ref, &walked)
	if err != nil && !errors.Is(err, errUnattributable) {
		e.log.Debug("kubernetes event not attributed", logx.Err(err), "object", ref.String())
		return uuid.Nil, false
	}
	for _, uid := range walked {
		e.verdicts.Add(uid, v, VerdictTTL)
	}
	return v.stack, v.ours
}

// walk reads ref and its controllers until one is decided by its annotations (or the cache),
// appending the UIDs read to walked.
func (e *Events) walk(ctx context.Context, ref objectRef, walked *[]types.UID) (verdict, error) {
	for hop := 0; ; hop++ {
		if v, ok := e.verdicts.Get(ref.uid); ok {
			return v.(verdict), nil
		}
		*walked = append(*walked, ref.uid)
		if hop > eventOwnerHops {
			return verdict{}, nil
		}
		obj, err := e.readMeta(ctx, ref)
		if err != nil {
			return verdict{}, err
		}
		if obj.UID != ref.uid {
			return verdict{}, nil // the object the event is about is gone; this is another one
		}
		if v, decided := e.judge(obj.Annotations); decided {
			return v, nil
		}
		owner := ownerOf(obj)
		if owner == nil {
			return verdict{}, nil
		}
		ref = objectRef{apiVersion: owner.APIVersion, kind: owner.Kind, namespace: obj.Namespace, name: owner.Name, uid: owner.UID}
	}
}

// judge decides from an object's annotations: the agent's (this agent's id in
// brokkr.io/owner-id and a stack id in k8s.brokkr.io/stack), someone else's (a stack
// annotation with another owner, or no valid stack id), or undecided (no stack annotation:
// its owners decide).
func (e *Events) judge(ann map[string]string) (verdict, bool) {
	s, ok := ann[kube.AnnotationStack]
	if !ok {
		return verdict{}, false
	}
	stack, err := uuid.Parse(s)
	if err != nil {
		return verdict{}, true
	}
	owner, err := uuid.Parse(ann[kube.AnnotationOwner])
	if err != nil || owner != e.opts.AgentID {
		return verdict{}, true
	}
	return verdict{stack: stack, ours: true}, true
}

// ownerOf returns the object's controller, or its only owner.
func ownerOf(obj *metav1.PartialObjectMetadata) *metav1.OwnerReference {
	if c := metav1.GetControllerOfNoCopy(obj); c != nil {
		return c
	}
	if len(obj.OwnerReferences) == 1 {
		return &obj.OwnerReferences[0]
	}
	return nil
}

// readMeta reads the metadata of the object ref names. Answers that will not change wrap
// errUnattributable.
func (e *Events) readMeta(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	gv, err := schema.ParseGroupVersion(ref.apiVersion)
	if err != nil || ref.kind == "" || ref.name == "" {
		return nil, fmt.Errorf("%w: %s: incomplete reference", errUnattributable, ref)
	}
	m, err := e.mapping(gv.WithKind(ref.kind))
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("%w: %s: %w", errUnattributable, ref, err)
		}
		return nil, err
	}
	var ri metadata.ResourceInterface = e.opts.Cluster.Metadata.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.namespace == "" {
			return nil, fmt.Errorf("%w: %s: namespaced kind without a namespace", errUnattributable, ref)
		}
		ri = e.opts.Cluster.Metadata.Resource(m.Resource).Namespace(ref.namespace)
	}
	ctx, cancel := context.WithTimeout(ctx, eventLookupTimeout)
	defer cancel()
	obj, err := ri.Get(ctx, ref.name, metav1.GetOptions{})
	switch {
	case err == nil:
		return obj, nil
	case apierrors.IsNotFound(err), apierrors.IsGone(err), apierrors.IsForbidden(err),
		apierrors.IsBadRequest(err), apierrors.IsMethodNotSupported(err), apierrors.IsInvalid(err):
		return nil, fmt.Errorf("%w: %s: %w", errUnattributable, ref, err)
	default:
		return nil, err
	}
}

// discoveryRefreshGap is the least time between two refreshes of discovery for kinds the
// agent does not know: events about objects of removed kinds must not refresh it each time.
const discoveryRefreshGap = 30 * time.Second

// mapping resolves a kind, refreshing discovery for an unknown one at most every
// discoveryRefreshGap (a custom resource whose definition is new).
func (e *Events) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mapper := e.opts.Cluster.Mapper
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) {
		return m, err
	}
	now, last := e.clock.Now().UnixNano(), e.refreshed.Load()
	if now-last < int64(discoveryRefreshGap) || !e.refreshed.CompareAndSwap(last, now) {
		return nil, err
	}
	e.opts.Cluster.ResetDiscovery()
	return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}
