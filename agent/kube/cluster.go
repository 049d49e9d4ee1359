// Package kube is the agent's access to its Kubernetes cluster: loading the client
// configuration, parsing manifests, ordered server-side apply with retries, listing the
// objects the agent owns and deleting them.
package kube

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Annotations the agent sets on every object it applies. The keys are those of the reference
// agent, so a cluster can move between agents without orphaning objects.
const (
	AnnotationStack            = "k8s.brokkr.io/stack"
	AnnotationChecksum         = "k8s.brokkr.io/deployment-checksum"
	AnnotationDeploymentObject = "brokkr.io/deployment-object-id"
	AnnotationLastApplied      = "k8s.brokkr.io/last-config-applied"
	AnnotationOwner            = "brokkr.io/owner-id"
)

// LoadConfig returns the client configuration: the kubeconfig file at path when path is set,
// else the standard loading rules ($KUBECONFIG, ~/.kube/config), else the in-cluster
// service account. path is used as given (the configuration loader expands "~" and
// environment variables in agent.kubeconfig_path).
func LoadConfig(path string) (*rest.Config, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err == nil {
		return cfg, nil
	}
	inCluster, icErr := rest.InClusterConfig()
	if icErr != nil {
		return nil, fmt.Errorf("no kubeconfig (%w) and not in a cluster (%w)", err, icErr)
	}
	return inCluster, nil
}

// Cluster holds the clients for one cluster.
type Cluster struct {
	Config   *rest.Config
	Kube     kubernetes.Interface
	Dynamic  dynamic.Interface
	Metadata metadata.Interface
	// Mapper maps kinds to resources from cached discovery; Mapping refreshes it when a kind
	// is unknown (a CRD applied a moment ago).
	Mapper *restmapper.DeferredDiscoveryRESTMapper

	discovery discovery.CachedDiscoveryInterface
}

// New builds the clients for cfg. The caller's QPS and Burst are kept when set; otherwise
// they are 200/400 (client-go's 5/10 would throttle a large apply).
func New(cfg *rest.Config) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS = 200
	}
	if cfg.Burst == 0 {
		cfg.Burst = 400
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "brokkr-agent"
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	disc := memory.NewMemCacheClient(kc.Discovery())
	return &Cluster{
		Config: cfg, Kube: kc, Dynamic: dc, Metadata: mc,
		Mapper:    restmapper.NewDeferredDiscoveryRESTMapper(disc),
		discovery: disc,
	}, nil
}

// Version asks the apiserver for its version and measures the round trip.
func (c *Cluster) Version(ctx context.Context) (string, time.Duration, error) {
	start := time.Now()
	body, err := c.Kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	took := time.Since(start)
	if err != nil {
		return "", took, fmt.Errorf("kubernetes /version: %w", err)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := jsonUnmarshal(body, &v); err != nil {
		return "", took, fmt.Errorf("kubernetes /version: %w", err)
	}
	return v.GitVersion, took, nil
}

// Mapping resolves a kind to its resource. An unknown kind refreshes discovery once, so a
// custom resource whose definition was just established resolves.
func (c *Cluster) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		return m, nil
	}
	if !meta.IsNoMatchError(err) {
		return nil, err
	}
	c.Mapper.Reset()
	m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("unknown kind %s: %w", gvk, err)
	}
	return m, nil
}

// ResetDiscovery forgets the cached discovery information.
func (c *Cluster) ResetDiscovery() { c.Mapper.Reset() }

// resource returns the dynamic interface for ref (namespaced or not, as the mapping says).
func (c *Cluster) resource(ref Ref) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	m, err := c.Mapping(ref.GVK)
	if err != nil {
		return nil, nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return nil, nil, fmt.Errorf("%s: namespaced kind without a namespace", ref)
		}
		return c.Dynamic.Resource(m.Resource).Namespace(ref.Namespace), m, nil
	}
	return c.Dynamic.Resource(m.Resource), m, nil
}

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }
