package agent_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/client"
)

// targetProxy is a reverse proxy in front of the broker that counts the target-state answers
// by status and records the If-None-Match of each target-state request; it can answer the
// next one with a 500 in the broker's stead.
type targetProxy struct {
	url string

	mu       sync.Mutex
	statuses map[int]int
	sent     []string // If-None-Match of each target-state request, "" when absent
	etags    []string // ETag of each 200 answer
	failNext bool
}

func newTargetProxy(t *testing.T, brokerURL string) *targetProxy {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &targetProxy{statuses: map[int]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if isTargetState(resp.Request) {
			p.mu.Lock()
			p.statuses[resp.StatusCode]++
			if resp.StatusCode == http.StatusOK {
				p.etags = append(p.etags, resp.Header.Get("ETag"))
			}
			p.mu.Unlock()
		}
		return nil
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isTargetState(r) {
			p.mu.Lock()
			p.sent = append(p.sent, r.Header.Get("If-None-Match"))
			fail := p.failNext
			p.failNext = false
			if fail {
				p.statuses[http.StatusInternalServerError]++
			}
			p.mu.Unlock()
			if fail {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"code":"internal","message":"injected failure"}`))
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	p.url = ts.URL
	return p
}

func isTargetState(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/target-state")
}

// client returns a client of the proxy with the given key.
func (p *targetProxy) client(t *testing.T, pak string) *client.Client {
	t.Helper()
	c, err := client.New(p.url, client.WithPAK(pak))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// take returns the target-state answers by status since the last take, and the
// If-None-Match of the last request.
func (p *targetProxy) take() (map[int]int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := maps.Clone(p.statuses)
	clear(p.statuses)
	last := ""
	if len(p.sent) > 0 {
		last = p.sent[len(p.sent)-1]
	}
	return got, last
}

// lastETag returns the ETag of the last 200 answer.
func (p *targetProxy) lastETag() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.etags) == 0 {
		return ""
	}
	return p.etags[len(p.etags)-1]
}

func (p *targetProxy) failNextRequest() {
	p.mu.Lock()
	p.failNext = true
	p.mu.Unlock()
}

// TestReconcileConditionalTargetState runs a real reconciler against a real broker through a
// proxy that sees every target-state answer: an unchanged target state comes as a 304, and a
// pass after it does what a pass over the same body does.
func TestReconcileConditionalTargetState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	proxy := newTargetProxy(t, f.broker.URL)
	f.rec.Client = proxy.client(t, f.agent.PAK)
	stack := f.broker.CreateStack(t, "web", f.agent.ID)
	v1 := f.broker.Post(t, stack.ID, f.cms(map[string]string{"a": "1"}), false)

	// want checks one pass's target-state answers and what its request carried.
	want := func(t *testing.T, what string, res agent.Result, status int, ifNoneMatch string) {
		t.Helper()
		got, sent := proxy.take()
		if len(got) != 1 || got[status] != 1 {
			hint := ""
			if status == http.StatusNotModified && got[http.StatusOK] > 0 {
				hint = " (the broker ignored If-None-Match)"
			}
			t.Fatalf("%s: target-state answers by status %v, want one %d%s", what, got, status, hint)
		}
		if sent != ifNoneMatch {
			t.Fatalf("%s: If-None-Match %q, want %q", what, sent, ifNoneMatch)
		}
		if res.NotModified != (status == http.StatusNotModified) {
			t.Fatalf("%s: result %+v after a %d", what, res, status)
		}
	}

	res := f.reconcile()
	want(t, "first pass", res, http.StatusOK, "")
	if res.Applied != 1 {
		t.Fatalf("first pass %+v", res)
	}
	etag := proxy.lastETag()
	if etag == "" {
		t.Fatal("the broker's target-state answer has no ETag")
	}

	t.Run("unchanged passes get 304 and apply nothing", func(t *testing.T) {
		for i := range 3 {
			f.rc.Reset()
			res := f.reconcile()
			want(t, fmt.Sprintf("unchanged pass %d", i+1), res, http.StatusNotModified, etag)
			if res.Unchanged != 1 || res.Applied != 0 || res.Failed != 0 || res.Pruned != 0 {
				t.Fatalf("pass %d: %+v", i+1, res)
			}
			if f.rc.Writes() != 0 || len(f.rc.Requests()) != 0 {
				t.Fatalf("pass %d: %d writes, Kubernetes requests %v", i+1, f.rc.Writes(), f.rc.Requests())
			}
		}
		if tracked := f.rec.Tracked(); len(tracked) != 1 || tracked[0].ID != v1.ID || len(tracked[0].Objects) != 1 {
			t.Fatalf("health tracks %+v", tracked)
		}
	})

	t.Run("a new deployment object gets a 200 and is applied", func(t *testing.T) {
		v2 := f.broker.Post(t, stack.ID, f.cms(map[string]string{"a": "2", "b": "2"}), false)
		res := f.reconcile()
		want(t, "after a new object", res, http.StatusOK, etag)
		if res.Applied != 1 {
			t.Fatalf("result %+v", res)
		}
		if a, _ := f.configMap("a"); a == nil || a.Data["v"] != "2" {
			t.Fatalf("ConfigMap a = %+v", a)
		}
		f.wantConfigMaps([]string{"b"}, nil)
		if ev := f.lastEvent(v2.ID); ev.Status != agent.EventSuccess {
			t.Fatalf("event %+v", ev)
		}
		if next := proxy.lastETag(); next == "" || next == etag {
			t.Fatalf("ETag %q after a new object, before %q", next, etag)
		}
		etag = proxy.lastETag()
		res = f.reconcile()
		want(t, "pass after the new object", res, http.StatusNotModified, etag)
	})

	t.Run("a 304 pass re-applies what was deleted behind the agent's back", func(t *testing.T) {
		if err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		f.rec.Resync()
		res := f.reconcile()
		want(t, "after the deletion", res, http.StatusNotModified, etag)
		if res.Applied != 1 {
			t.Fatalf("result %+v", res)
		}
		f.wantConfigMaps([]string{"a", "b"}, nil)
	})

	t.Run("a failed apply is retried on 304 passes", func(t *testing.T) {
		other := f.broker.CreateStack(t, "other", f.agent.ID)
		// Made by hand: the agent must not take it over, so the object fails.
		if _, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "taken"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		blocked := f.broker.Post(t, other.ID, f.cms(map[string]string{"taken": "1"}), false)
		res := f.reconcile()
		want(t, "new stack", res, http.StatusOK, etag)
		if res.Failed != 1 || res.Unchanged != 1 {
			t.Fatalf("result %+v", res)
		}
		etag = proxy.lastETag()
		res = f.reconcile()
		want(t, "failing object waits", res, http.StatusNotModified, etag)
		if res.Skipped != 1 || res.Unchanged != 1 {
			t.Fatalf("result %+v", res)
		}
		if err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Delete(ctx, "taken", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		f.rec.Resync() // a resync retries failed objects at once
		res = f.reconcile()
		want(t, "retry", res, http.StatusNotModified, etag)
		if res.Applied != 1 || res.Unchanged != 1 {
			t.Fatalf("result %+v", res)
		}
		if ev := f.lastEvent(blocked.ID); ev.Status != agent.EventSuccess {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("an error answer forgets the tag", func(t *testing.T) {
		proxy.failNextRequest()
		if _, err := f.rec.Reconcile(ctx); err == nil {
			t.Fatal("a pass with a failing broker succeeded")
		}
		want(t, "injected failure", agent.Result{}, http.StatusInternalServerError, etag)
		res := f.reconcile()
		want(t, "after the failure", res, http.StatusOK, "")
		res = f.reconcile()
		want(t, "after the failure, unchanged", res, http.StatusNotModified, proxy.lastETag())
	})

	t.Run("a restarted agent asks without a tag", func(t *testing.T) {
		f.rec = f.reconciler()
		f.rec.Client = proxy.client(t, f.agent.PAK)
		res := f.reconcile()
		want(t, "restarted", res, http.StatusOK, "")
		if res.Unchanged != 2 || res.Applied != 0 {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("a new key forgets the tag", func(t *testing.T) {
		rotated, err := f.agent.Client.Agents().RotatePAK(ctx, f.agent.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.rec.Client = proxy.client(t, rotated.PAK)
		res := f.reconcile()
		want(t, "new key", res, http.StatusOK, "")
		res = f.reconcile()
		want(t, "new key, unchanged", res, http.StatusNotModified, proxy.lastETag())
	})
}
