package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/server/servertest"
)

// exchange is one target-state request as it went over the wire.
type exchange struct {
	ifNoneMatch string
	status      int
	etag        string
}

// recorder is a reverse proxy in front of the broker that records every target-state
// exchange, per path (one path per agent).
type recorder struct {
	mu  sync.Mutex
	log map[string][]exchange
}

func newRecorder(t *testing.T, target string) (*recorder, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{log: map[string][]exchange{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/target-state") {
			rec.mu.Lock()
			rec.log[resp.Request.URL.Path] = append(rec.log[resp.Request.URL.Path], exchange{
				ifNoneMatch: resp.Request.Header.Get("If-None-Match"), status: resp.StatusCode, etag: resp.Header.Get("ETag")})
			rec.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func (rec *recorder) exchanges() map[string][]exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.log
}

// TestConditionalTargetState checks, on the wire, that every simulated agent sends back the
// ETag of the last target state it acted on, and that the 304s are counted as successes of
// their own. A broker that sends no ETag is simply asked unconditionally.
func TestConditionalTargetState(t *testing.T) {
	b := servertest.Start(t)
	rec, proxyURL := newRecorder(t, b.URL)
	cfg := Config{
		URL: proxyURL, AdminPAK: b.AdminPAK, Agents: 5, Interval: 200 * time.Millisecond, Duration: 1500 * time.Millisecond,
		Conns: 4, Prefix: "etag", SetupWorkers: 2,
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || !r.ETag {
		t.Fatalf("errors %d, etag %v: %+v", r.Errors, r.ETag, r.Ops)
	}
	var sawETag bool
	var notModified, requests uint64
	for path, xs := range rec.exchanges() {
		if len(xs) < 3 {
			t.Errorf("%s: %d target-state requests", path, len(xs))
		}
		last := ""
		for i, x := range xs {
			// the agent sends back the last ETag it was given, once it has acted on it
			if x.ifNoneMatch != last {
				t.Errorf("%s request %d: If-None-Match %q, want %q", path, i+1, x.ifNoneMatch, last)
			}
			if x.etag != "" && (x.status == http.StatusOK || x.status == http.StatusNotModified) {
				last, sawETag = x.etag, true
			}
			if x.status == http.StatusNotModified {
				notModified++
			}
			requests++
		}
	}
	ts := r.Ops[0]
	if ts.Op != opTargetState || ts.Count != requests || ts.NotModified != notModified || r.NotModified != notModified {
		t.Errorf("report: %d target states, %d 304s (total %d); on the wire %d and %d", ts.Count, ts.NotModified, r.NotModified, requests, notModified)
	}
	if sawETag && notModified == 0 {
		t.Errorf("the broker sent ETags but never answered 304 to them")
	}
	t.Logf("broker sent ETags: %v; %d of %d target-state requests answered 304", sawETag, notModified, requests)

	// -etag=false: never conditional
	rec2, proxy2 := newRecorder(t, b.URL)
	cfg.URL, cfg.NoETag, cfg.Prefix = proxy2, true, "noetag"
	r, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.ETag || r.NotModified != 0 || r.Errors != 0 {
		t.Errorf("without ETags: etag %v, %d 304s, %d errors", r.ETag, r.NotModified, r.Errors)
	}
	for path, xs := range rec2.exchanges() {
		for i, x := range xs {
			if x.ifNoneMatch != "" || x.status != http.StatusOK {
				t.Errorf("%s request %d without ETags: %+v", path, i+1, x)
			}
		}
	}
}
