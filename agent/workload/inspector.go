// Package workload reads the state of the workloads the agent applied: it attributes pods to
// deployment objects, computes deployment health (reported to the broker through
// PATCH /agents/{id}/health-status) and collects on-demand diagnostics (pod statuses, namespace
// events and log tails).
//
// A pod belongs to deployment object X when it carries the label
// brokkr.io/deployment-object-id=X, else the annotation of that key, else when walking its
// controller owner references (at most four hops: Pod → ReplicaSet → Deployment, Pod → Job →
// CronJob, ...) reaches an owner annotated with that key. The agent annotates every object it
// applies, so pods created by an applied workload are found through their owners.
package workload

import (
	"context"
	"log/slog"
	"strings"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/internal/logx"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// DeploymentObjectIDKey is the label (read on pods) and annotation (set by the agent on every
// applied object) that names the deployment object a Kubernetes object belongs to.
const DeploymentObjectIDKey = kube.AnnotationDeploymentObject

// maxOwnerHops bounds the walk up controller owner references from a pod.
const maxOwnerHops = 4

// Inspector reads workload state from the cluster.
type Inspector struct {
	// Kube reads pods, events, logs and workload objects.
	Kube kubernetes.Interface
	// Dynamic fetches the owners of pods, whatever their kind. Without it pods are attributed
	// by their own label or annotation only.
	Dynamic dynamic.Interface
	// Mapper resolves owner kinds to resources and tells cluster-scoped kinds apart. Without
	// it the built-in controller kinds (ReplicaSet, Deployment, StatefulSet, DaemonSet, Job,
	// CronJob, ReplicationController) are still resolved.
	Mapper meta.RESTMapper
	// WatchNamespace confines the inspector to one namespace; "" means cluster-wide.
	WatchNamespace string
	// Log receives diagnostics about failed lookups; nil discards them.
	Log *slog.Logger
}

// Object is one applied Kubernetes object of a deployment object. Namespace is the namespace
// the object was applied to; "" for a namespaced kind means the agent's default namespace
// (WatchNamespace, else "default"), as when applying.
type Object struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

// Tracked is a deployment object currently applied by the agent, with its objects.
type Tracked struct {
	ID      uuid.UUID
	Objects []Object
}

func (i *Inspector) log() *slog.Logger { return logx.OrDiscard(i.Log) }

// defaultNamespace is where the agent puts namespaced objects without a namespace.
func (i *Inspector) defaultNamespace() string {
	if i.WatchNamespace != "" {
		return i.WatchNamespace
	}
	return "default"
}

// watches reports whether namespace ns is within the inspector's reach.
func (i *Inspector) watches(ns string) bool {
	return i.WatchNamespace == "" || ns == i.WatchNamespace
}

// objectNamespace returns the namespace o lives in, or "" when its kind is cluster-scoped.
func (i *Inspector) objectNamespace(o Object) string {
	if o.Namespace != "" {
		return o.Namespace
	}
	if clusterScoped(i.Mapper, o.GVK) {
		return ""
	}
	return i.defaultNamespace()
}

// builtinResources resolves the usual controller kinds when no mapper is available.
var builtinResources = map[schema.GroupKind]string{
	{Group: "apps", Kind: "ReplicaSet"}:        "replicasets",
	{Group: "apps", Kind: "Deployment"}:        "deployments",
	{Group: "apps", Kind: "StatefulSet"}:       "statefulsets",
	{Group: "apps", Kind: "DaemonSet"}:         "daemonsets",
	{Group: "batch", Kind: "Job"}:              "jobs",
	{Group: "batch", Kind: "CronJob"}:          "cronjobs",
	{Group: "", Kind: "ReplicationController"}: "replicationcontrollers",
}

// resourceFor returns the resource of gvk and whether it is namespaced.
func (i *Inspector) resourceFor(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	if i.Mapper != nil {
		m, err := i.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			return m.Resource, m.Scope.Name() != meta.RESTScopeNameRoot, nil
		}
		if r, ok := builtinResources[gvk.GroupKind()]; ok {
			return gvk.GroupVersion().WithResource(r), true, nil
		}
		return schema.GroupVersionResource{}, false, err
	}
	if r, ok := builtinResources[gvk.GroupKind()]; ok {
		return gvk.GroupVersion().WithResource(r), true, nil
	}
	return schema.GroupVersionResource{}, false, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
}

// parseID reads a deployment object id from a label or annotation value.
func parseID(v string) (uuid.UUID, bool) {
	if v == "" {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(strings.TrimSpace(v))
	if err != nil {
		return uuid.Nil, false
	}
	return id, true
}

type ownerKey struct {
	apiVersion, kind, namespace, name string
}

// ownerInfo is what an owner lookup learned; found is false when the owner does not exist
// (or is a different object of the same name) or could not be read.
type ownerInfo struct {
	found      bool
	id         string
	controller *metav1.OwnerReference
}

// attributor assigns pods to deployment objects. Owner lookups are memoized for the life of
// the attributor (one health pass or one diagnostics collection).
type attributor struct {
	i    *Inspector
	memo map[ownerKey]ownerRecord
	// walkNamespaces limits owner walks to pods of these namespaces; nil means every namespace.
	walkNamespaces map[string]bool
}

func (i *Inspector) newAttributor(walkNamespaces map[string]bool) *attributor {
	return &attributor{i: i, memo: map[ownerKey]ownerRecord{}, walkNamespaces: walkNamespaces}
}

// objectID returns the deployment object pod belongs to: its label, else its annotation,
// else the annotation of the first controller owner (up to maxOwnerHops) that has one.
func (a *attributor) objectID(ctx context.Context, pod *corev1.Pod) (uuid.UUID, bool) {
	if id, ok := parseID(pod.Labels[DeploymentObjectIDKey]); ok {
		return id, true
	}
	if id, ok := parseID(pod.Annotations[DeploymentObjectIDKey]); ok {
		return id, true
	}
	if a.i.Dynamic == nil || (a.walkNamespaces != nil && !a.walkNamespaces[pod.Namespace]) {
		return uuid.Nil, false
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	for hop := 0; hop < maxOwnerHops && ref != nil; hop++ {
		info := a.owner(ctx, pod.Namespace, ref)
		if !info.found {
			return uuid.Nil, false
		}
		if id, ok := parseID(info.id); ok {
			return id, true
		}
		ref = info.controller
	}
	return uuid.Nil, false
}

// owner fetches (once per attributor) the object ref points at from namespace ns.
func (a *attributor) owner(ctx context.Context, ns string, ref *metav1.OwnerReference) ownerInfo {
	key := ownerKey{apiVersion: ref.APIVersion, kind: ref.Kind, namespace: ns, name: ref.Name}
	info, ok := a.memo[key]
	if !ok {
		info = a.lookup(ctx, key)
		a.memo[key] = info
	}
	if info.found && info.uid != "" && ref.UID != "" && info.uid != ref.UID {
		return ownerInfo{} // the owner was replaced by another object of the same name
	}
	return info.ownerInfo
}

// ownerRecord is a memoized lookup: the owner's uid next to what was learned.
type ownerRecord struct {
	ownerInfo
	uid types.UID
}

func (a *attributor) lookup(ctx context.Context, key ownerKey) ownerRecord {
	log := a.i.log().With("kind", key.kind, "namespace", key.namespace, "name", key.name)
	gv, err := schema.ParseGroupVersion(key.apiVersion)
	if err != nil {
		log.Debug("owner reference with an invalid apiVersion", "api_version", key.apiVersion)
		return ownerRecord{}
	}
	gvr, namespaced, err := a.i.resourceFor(gv.WithKind(key.kind))
	if err != nil {
		log.Debug("owner kind not resolvable", logx.Err(err))
		return ownerRecord{}
	}
	var ri dynamic.ResourceInterface = a.i.Dynamic.Resource(gvr)
	if namespaced {
		ri = a.i.Dynamic.Resource(gvr).Namespace(key.namespace)
	}
	obj, err := ri.Get(ctx, key.name, metav1.GetOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			log.Warn("owner lookup failed", logx.Err(err))
		}
		return ownerRecord{}
	}
	rec := ownerRecord{ownerInfo: ownerInfo{found: true, id: obj.GetAnnotations()[DeploymentObjectIDKey]}, uid: obj.GetUID()}
	for _, r := range obj.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			rc := r
			rec.controller = &rc
			break
		}
	}
	return rec
}
