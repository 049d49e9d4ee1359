package webhooks

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// received is one request an endpoint got.
type received struct {
	method string
	path   string
	header http.Header
	body   string
}

// endpoint is a webhook receiver answering with a fixed status and body.
type endpoint struct {
	mu       sync.Mutex
	requests []received
}

func (e *endpoint) start(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.requests = append(e.requests, received{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: string(b)})
		e.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (e *endpoint) got() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.requests...)
}

// counter records WebhookDelivered calls.
type counter struct {
	mu               sync.Mutex
	success, failure int
}

func (c *counter) WebhookDelivered(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.success++
	} else {
		c.failure++
	}
}

func pending(url string) client.PendingWebhookDelivery {
	auth := "Bearer s3cret"
	return client.PendingWebhookDelivery{
		ID:             uuid.New(),
		SubscriptionID: uuid.New(),
		EventType:      "deployment.applied",
		Payload:        `{"id":"e1","event_type":"deployment.applied","data":{"html":"<b>&amp;</b>"}}`,
		URL:            url,
		AuthHeader:     &auth,
		TimeoutSeconds: 5,
		MaxRetries:     5,
	}
}

func TestDeliverSuccess(t *testing.T) {
	var ep endpoint
	srv := ep.start(t, http.StatusAccepted, "thanks")
	var m counter
	d := &Deliverer{Metrics: &m}
	p := pending(srv.URL + "/hook")

	res := d.Deliver(context.Background(), p)
	if !res.Success || res.StatusCode == nil || *res.StatusCode != http.StatusAccepted || res.Error != nil {
		t.Fatalf("result = %+v", res)
	}
	if res.DurationMs == nil || *res.DurationMs < 0 {
		t.Errorf("duration_ms = %v", res.DurationMs)
	}
	reqs := ep.got()
	if len(reqs) != 1 {
		t.Fatalf("endpoint got %d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/hook" || r.body != p.Payload {
		t.Errorf("request %s %s body %q; want POST /hook with the payload verbatim", r.method, r.path, r.body)
	}
	for name, want := range map[string]string{
		"Content-Type":         "application/json",
		"X-Brokkr-Event-Type":  "deployment.applied",
		"X-Brokkr-Delivery-Id": p.ID.String(),
		"Authorization":        "Bearer s3cret",
	} {
		if got := r.header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if m.success != 1 || m.failure != 0 {
		t.Errorf("metrics success=%d failures=%d", m.success, m.failure)
	}

	// Without an auth header there is no Authorization header at all.
	p.AuthHeader = nil
	if res := d.Deliver(context.Background(), p); !res.Success {
		t.Fatalf("result = %+v", res)
	}
	if r := ep.got()[1]; r.header.Get("Authorization") != "" || len(r.header.Values("Authorization")) != 0 {
		t.Errorf("Authorization sent without an auth header: %q", r.header.Values("Authorization"))
	}
}

func TestDeliverHTTPError(t *testing.T) {
	var ep endpoint
	long := strings.Repeat("é", 450) + strings.Repeat("x", 100) + "\x00tail"
	srv := ep.start(t, http.StatusServiceUnavailable, long)
	var m counter
	res := (&Deliverer{Metrics: &m}).Deliver(context.Background(), pending(srv.URL))
	if res.Success || res.StatusCode == nil || *res.StatusCode != 503 || res.Error == nil || res.DurationMs == nil {
		t.Fatalf("result = %+v", res)
	}
	want := "HTTP 503: " + strings.Repeat("é", 450) + strings.Repeat("x", 50)
	if *res.Error != want {
		t.Errorf("error = %q (%d chars), want the first 500 characters of the body", *res.Error, len([]rune(*res.Error)))
	}
	if m.failure != 1 {
		t.Errorf("metrics failures = %d", m.failure)
	}

	srv404 := ep.start(t, http.StatusNotFound, "")
	res = (&Deliverer{}).Deliver(context.Background(), pending(srv404.URL))
	if res.Error == nil || *res.Error != "HTTP 404: " || *res.StatusCode != 404 {
		t.Errorf("empty 404 result = %+v", res)
	}
}

func TestDeliverTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	p := pending(srv.URL)
	p.TimeoutSeconds = 1
	start := time.Now()
	res := (&Deliverer{}).Deliver(context.Background(), p)
	if res.Success || res.Error == nil || *res.Error != "Request timed out" || res.StatusCode != nil {
		t.Fatalf("result = %+v", res)
	}
	if el := time.Since(start); el < time.Second || el > 5*time.Second {
		t.Errorf("gave up after %s, want about 1 s", el)
	}
	if *res.DurationMs < 1000 {
		t.Errorf("duration_ms = %d", *res.DurationMs)
	}
}

// deadlineTransport records the deadline of each request's context.
type deadlineTransport struct {
	mu   sync.Mutex
	left []time.Duration
}

func (d *deadlineTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if dl, ok := r.Context().Deadline(); ok {
		d.mu.Lock()
		d.left = append(d.left, time.Until(dl))
		d.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestDeliverDefaultTimeout(t *testing.T) {
	var ep endpoint
	srv := ep.start(t, http.StatusOK, "")
	tr := &deadlineTransport{}
	d := &Deliverer{HTTP: &http.Client{Transport: tr}}
	for _, secs := range []int32{0, -3, 7} {
		p := pending(srv.URL)
		p.TimeoutSeconds = secs
		if res := d.Deliver(context.Background(), p); !res.Success {
			t.Fatalf("result = %+v", res)
		}
	}
	if len(tr.left) != 3 {
		t.Fatalf("deadlines %v", tr.left)
	}
	for i, want := range []time.Duration{DefaultTimeout, DefaultTimeout, 7 * time.Second} {
		if got := tr.left[i]; got > want || got < want-2*time.Second {
			t.Errorf("request %d had %s left, want about %s", i, got, want)
		}
	}
}

func TestDeliverConnectionFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name, url, want string
	}{
		{"refused", "http://" + addr + "/hook", "Connection failed"},
		{"unknown host", "http://no-such-host.invalid/hook", "Connection failed"},
		{"bad scheme", "ftp://token-1234.example.com/hook", `Request error: unsupported protocol scheme "ftp"`},
		{"unparsable", "http://token-1234.example.com:port/hook", "Request error: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m counter
			res := (&Deliverer{Metrics: &m}).Deliver(context.Background(), pending(tt.url))
			if res.Success || res.StatusCode != nil || res.Error == nil || res.DurationMs == nil {
				t.Fatalf("result = %+v", res)
			}
			if !strings.HasPrefix(*res.Error, tt.want) {
				t.Errorf("error = %q, want it to start with %q", *res.Error, tt.want)
			}
			if strings.Contains(*res.Error, "token-1234") {
				t.Errorf("error %q reveals the target URL", *res.Error)
			}
			if m.failure != 1 {
				t.Errorf("metrics failures = %d", m.failure)
			}
		})
	}
}
