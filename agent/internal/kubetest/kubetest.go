// Package kubetest runs a living Kubernetes cluster for the agent's integration tests: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes whose pods
// really get scheduled, reach Running, complete and serve a canned log) as plain processes on
// loopback. Namespaces really delete, the garbage collector removes dependents, Deployments
// get ReplicaSets and pods, Jobs complete and Events are emitted, so a test can see damage.
//
// The binaries come from `make test-assets` through KUBEBUILDER_ASSETS; without them the tests
// skip, except under CI=true where a missing cluster is a failure.
//
// A package starts one cluster in TestMain:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
//
// or, when its tests need PostgreSQL too:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.RunWith(m, dbtest.Run)) }
//
// and each test takes it with kubetest.Get(t) and works in its own namespace.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Env is a running cluster.
type Env struct {
	// Config reaches the apiserver as a member of system:masters.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config.
	Kubeconfig string
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface

	cluster *cluster
}

var (
	shared   *Env
	startErr error
)

// StartTimeout bounds the start of a cluster (a loaded CI machine needs up to half a minute).
const StartTimeout = 3 * time.Minute

// Main starts the cluster (when the assets are there), runs the tests, stops it and exits
// with the tests' status.
func Main(m *testing.M) { os.Exit(RunWith(m, func(m *testing.M) int { return m.Run() })) }

// RunWith is Main for packages that need more around their tests: run is called with the
// cluster up (for example dbtest.Run, for tests that need PostgreSQL as well) and its status
// is returned.
func RunWith(m *testing.M, run func(*testing.M) int) int {
	flag.Parse() // for testing.Verbose
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return run(m)
	}
	start := time.Now()
	shared, startErr = Start()
	if startErr != nil {
		fmt.Fprintf(os.Stderr, "kubetest: %v\n", startErr)
		return run(m) // every Get fails with the error
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "kubetest: living cluster ready in %s at %s\n", time.Since(start).Round(time.Millisecond), shared.Config.Host)
	}
	defer shared.Stop()
	return run(m)
}

// Available reports whether tests can get a cluster.
func Available() bool { return shared != nil }

// Get returns the package's cluster, or skips the test (fails it under CI=true) when there is
// none.
func Get(t testing.TB) *Env {
	t.Helper()
	switch {
	case shared != nil:
		return shared
	case startErr != nil:
		t.Fatalf("the test cluster did not start: %v", startErr)
	case os.Getenv("CI") == "true":
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-assets` (CI must run the agent integration tests)")
	default:
		t.Skip("no test cluster: set KUBEBUILDER_ASSETS=$(make -s print-test-assets) after `make test-assets`")
	}
	return nil
}

// Start starts a cluster of its own from KUBEBUILDER_ASSETS (for tests that need more than
// one cluster).
func Start() (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c, err := startCluster(ctx, assets)
	if err != nil {
		return nil, fmt.Errorf("start the test cluster: %w", err)
	}
	e := &Env{cluster: c, Kubeconfig: c.dir + "/kubeconfig"}
	if e.Config, err = clientcmd.BuildConfigFromFlags("", e.Kubeconfig); err != nil {
		c.stop()
		return nil, err
	}
	e.Config.QPS, e.Config.Burst = 200, 400
	if e.Kube, err = kubernetes.NewForConfig(e.Config); err != nil {
		c.stop()
		return nil, err
	}
	if e.Dynamic, err = dynamic.NewForConfig(e.Config); err != nil {
		c.stop()
		return nil, err
	}
	return e, nil
}

// Stop stops the cluster and removes its files.
func (e *Env) Stop() { e.cluster.stop() }

// Dir is the cluster's directory: kubeconfig, component logs (NAME.log), certificates.
func (e *Env) Dir() string { return e.cluster.dir }

var nsSeq atomic.Int64

// Namespace creates a namespace of a unique name for the test and returns its name.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	return e.CreateNamespace(t, UniqueName(t.Name()))
}

// CreateNamespace creates the named namespace.
func (e *Env) CreateNamespace(t testing.TB, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// UniqueName turns s into a DNS label that no other call returns.
func UniqueName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%s-%d-%s", base, nsSeq.Add(1), hex.EncodeToString(rnd[:]))
}

// RequestCounter counts the requests a rest.Config makes, by verb.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[string]int
	paths  []string
}

// Wrap returns a copy of cfg whose requests c counts.
func (c *RequestCounter) Wrap(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[string]int{}
			}
			c.counts[r.Method]++
			c.paths = append(c.paths, r.Method+" "+r.URL.Path)
			c.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	return out
}

// Writes is the number of POST, PUT, PATCH and DELETE requests so far.
func (c *RequestCounter) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[http.MethodPost] + c.counts[http.MethodPut] + c.counts[http.MethodPatch] + c.counts[http.MethodDelete]
}

// Requests returns "METHOD path" of every request so far.
func (c *RequestCounter) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

// Reset forgets the counts.
func (c *RequestCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts, c.paths = nil, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
