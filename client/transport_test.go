package client_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// fast retries without waiting.
var fast = client.WithRetry(client.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})

func newClient(t *testing.T, base string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(base, append([]client.Option{client.WithPAK("brokkr_BRtest_key")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// canned answers every request with one fixed response.
func canned(t *testing.T, status int, header map[string]string, body string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestErrorDecoding(t *testing.T) {
	c := ctx(t)
	id := uuid.New()
	noRetry := client.WithRetry(client.RetryPolicy{MaxAttempts: 1})

	t.Run("JSON error body", func(t *testing.T) {
		base := canned(t, http.StatusConflict, map[string]string{"Content-Type": "application/json", "X-Request-Id": "req-42"},
			`{"code":"unique_violation","message":"violates unique constraint `+"`unique_stack_name`"+`","details":{"constraint":"unique_stack_name"}}`)
		_, err := newClient(t, base).Stacks().Create(c, client.CreateStackRequest{Name: "web", GeneratorID: id})
		wrapped := fmt.Errorf("create stack: %w", err)
		e, ok := client.AsError(wrapped)
		if !ok {
			t.Fatalf("not an *Error: %v", err)
		}
		if e.StatusCode != 409 || e.Code != "unique_violation" || e.Details["constraint"] != "unique_stack_name" ||
			e.RequestID != "req-42" || e.Method != http.MethodPost || e.Path != "/stacks" || !strings.Contains(e.Message, "unique_stack_name") {
			t.Fatalf("decoded %+v", e)
		}
		if !client.IsConflict(wrapped) || !client.HasCode(wrapped, "unique_violation") || client.IsNotFound(wrapped) || client.HasCode(wrapped, "other") {
			t.Fatalf("predicates disagree with %+v", e)
		}
		if s := e.Error(); !strings.Contains(s, "POST /stacks: 409 unique_violation") {
			t.Fatalf("message %q", s)
		}
	})

	t.Run("plain text from a proxy", func(t *testing.T) {
		base := canned(t, http.StatusBadGateway, map[string]string{"Content-Type": "text/html"}, "<html><body>502 Bad Gateway</body></html>\n")
		_, err := newClient(t, base, noRetry).Agents().Get(c, id)
		e, ok := client.AsError(err)
		if !ok || e.StatusCode != 502 || e.Code != "" || e.Message != "<html><body>502 Bad Gateway</body></html>" || e.Details != nil {
			t.Fatalf("decoded %+v (%v)", e, err)
		}
		if s := e.Error(); s != "GET /agents/"+id.String()+": 502: <html><body>502 Bad Gateway</body></html>" {
			t.Fatalf("message %q", s)
		}
	})

	t.Run("long plain text is cut", func(t *testing.T) {
		base := canned(t, http.StatusUnprocessableEntity, nil, strings.Repeat("x", 2000))
		_, err := newClient(t, base).Templates().List(c)
		e, _ := client.AsError(err)
		if e == nil || !client.IsBadRequest(err) || len(e.Message) > 510 || !strings.HasSuffix(e.Message, "…") {
			t.Fatalf("decoded %+v", e)
		}
	})

	t.Run("empty 401 of an older broker", func(t *testing.T) {
		base := canned(t, http.StatusUnauthorized, nil, "")
		_, err := newClient(t, base).Auth().Verify(c)
		e, ok := client.AsError(err)
		if !ok || !client.IsUnauthorized(err) || e.Code != "" || e.Message != "" {
			t.Fatalf("decoded %+v (%v)", e, err)
		}
		if s := e.Error(); s != "POST /auth/pak: 401: Unauthorized" {
			t.Fatalf("message %q", s)
		}
	})

	t.Run("status predicates", func(t *testing.T) {
		for status, pred := range map[int]func(error) bool{
			400: client.IsBadRequest, 403: client.IsForbidden, 404: client.IsNotFound, 422: client.IsBadRequest,
		} {
			base := canned(t, status, nil, `{"code":"c","message":"m"}`)
			err := newClient(t, base).Agents().Delete(c, id)
			if !pred(err) || !client.HasCode(err, "c") {
				t.Errorf("status %d: %v", status, err)
			}
		}
		if client.IsNotFound(errors.New("plain")) || client.HasCode(nil, "") {
			t.Fatal("predicates accept non-API errors")
		}
	})

	t.Run("undecodable success body", func(t *testing.T) {
		base := canned(t, http.StatusOK, nil, "not json")
		if _, err := newClient(t, base).Agents().List(c); err == nil || !strings.Contains(err.Error(), "decode GET /agents response") {
			t.Fatalf("err %v", err)
		}
	})
}

// counter counts requests and answers the first fail of them with status.
func counter(t *testing.T, fail int, status int, header map[string]string) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if int(n.Add(1)) <= fail {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"id":"`+uuid.NewString()+`","name":"ci"}]`)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, &n
}

func TestRetries(t *testing.T) {
	c := ctx(t)

	t.Run("GET is retried on 503", func(t *testing.T) {
		base, n := counter(t, 2, http.StatusServiceUnavailable, nil)
		got, err := newClient(t, base, fast).PAKs().List(c)
		if err != nil || len(got) != 1 || got[0].Name != "ci" || n.Load() != 3 {
			t.Fatalf("got %+v, %v after %d attempts", got, err, n.Load())
		}
	})

	t.Run("attempts are bounded", func(t *testing.T) {
		base, n := counter(t, 10, http.StatusGatewayTimeout, nil)
		_, err := newClient(t, base, fast).PAKs().List(c)
		if e, ok := client.AsError(err); !ok || e.StatusCode != 504 || n.Load() != 3 {
			t.Fatalf("%v after %d attempts", err, n.Load())
		}
	})

	t.Run("POST is not retried on 503", func(t *testing.T) {
		base, n := counter(t, 2, http.StatusServiceUnavailable, nil)
		_, err := newClient(t, base, fast).Generators().Create(c, client.CreateGeneratorRequest{Name: "ci"})
		if e, ok := client.AsError(err); !ok || e.StatusCode != 503 || n.Load() != 1 {
			t.Fatalf("%v after %d attempts", err, n.Load())
		}
	})

	t.Run("client errors are not retried", func(t *testing.T) {
		base, n := counter(t, 2, http.StatusNotFound, nil)
		if _, err := newClient(t, base, fast).PAKs().List(c); !client.IsNotFound(err) || n.Load() != 1 {
			t.Fatalf("%v after %d attempts", err, n.Load())
		}
	})

	t.Run("429 honours Retry-After", func(t *testing.T) {
		base, n := counter(t, 1, http.StatusTooManyRequests, map[string]string{"Retry-After": "1"})
		start := time.Now()
		_, err := newClient(t, base, fast).Generators().Create(c, client.CreateGeneratorRequest{Name: "ci"})
		// The canned success body is a list, so decoding into a generator fails; what
		// matters is that the second attempt was made, after the advertised delay.
		if n.Load() != 2 || time.Since(start) < time.Second {
			t.Fatalf("%d attempts in %v (%v)", n.Load(), time.Since(start), err)
		}
	})

	t.Run("503 honours Retry-After", func(t *testing.T) {
		base, n := counter(t, 1, http.StatusServiceUnavailable, map[string]string{"Retry-After": "1"})
		start := time.Now()
		got, err := newClient(t, base, fast).PAKs().List(c)
		if err != nil || len(got) != 1 || n.Load() != 2 || time.Since(start) < time.Second {
			t.Fatalf("%v after %d attempts in %v", err, n.Load(), time.Since(start))
		}
	})

	t.Run("Retry-After as an HTTP date", func(t *testing.T) {
		// Dates have whole seconds: two seconds ahead is at least one second away.
		at := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
		base, n := counter(t, 1, http.StatusTooManyRequests, map[string]string{"Retry-After": at})
		start := time.Now()
		if _, err := newClient(t, base, fast).PAKs().List(c); err != nil || n.Load() != 2 || time.Since(start) < time.Second {
			t.Fatalf("%v after %d attempts in %v", err, n.Load(), time.Since(start))
		}
	})

	t.Run("the wait for Retry-After is capped", func(t *testing.T) {
		base, n := counter(t, 1, http.StatusTooManyRequests, map[string]string{"Retry-After": "3600"})
		capped := client.WithRetry(client.RetryPolicy{MaxAttempts: 2, MinBackoff: time.Millisecond,
			MaxBackoff: 2 * time.Millisecond, MaxRetryAfter: 300 * time.Millisecond})
		start := time.Now()
		_, err := newClient(t, base, capped).PAKs().List(c)
		if took := time.Since(start); err != nil || n.Load() != 2 || took < 300*time.Millisecond || took > 10*time.Second {
			t.Fatalf("%v after %d attempts in %v", err, n.Load(), took)
		}
	})

	t.Run("the error carries Retry-After", func(t *testing.T) {
		base, _ := counter(t, 10, http.StatusTooManyRequests, map[string]string{"Retry-After": "7"})
		_, err := newClient(t, base, client.WithRetry(client.RetryPolicy{MaxAttempts: 1})).PAKs().List(c)
		if e, ok := client.AsError(err); !ok || e.StatusCode != 429 || e.RetryAfter != 7*time.Second {
			t.Fatalf("%v (%+v)", err, e)
		}
		base, _ = counter(t, 10, http.StatusTooManyRequests, map[string]string{"Retry-After": "soon"})
		_, err = newClient(t, base, client.WithRetry(client.RetryPolicy{MaxAttempts: 1})).PAKs().List(c)
		if e, ok := client.AsError(err); !ok || e.RetryAfter != 0 {
			t.Fatalf("malformed Retry-After: %v (%+v)", err, e)
		}
	})

	t.Run("cancellation stops the wait", func(t *testing.T) {
		base, n := counter(t, 10, http.StatusTooManyRequests, map[string]string{"Retry-After": "30"})
		cc, cancel := context.WithTimeout(c, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newClient(t, base, fast).PAKs().List(cc)
		if e, ok := client.AsError(err); !ok || e.StatusCode != 429 || n.Load() != 1 || time.Since(start) > 5*time.Second {
			t.Fatalf("%v after %d attempts in %v", err, n.Load(), time.Since(start))
		}
	})

	t.Run("per-attempt timeout", func(t *testing.T) {
		release := make(chan struct{})
		ts := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(ts.Close)
		t.Cleanup(func() { close(release) })
		_, err := newClient(t, ts.URL, client.WithTimeout(50*time.Millisecond), client.WithRetry(client.RetryPolicy{MaxAttempts: 1})).PAKs().List(c)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("invalid options", func(t *testing.T) {
		if _, err := client.New("http://h:1", client.WithRetry(client.RetryPolicy{})); err == nil {
			t.Fatal("MaxAttempts 0 accepted")
		}
		if _, err := client.New("http://h:1", client.WithHTTPClient(nil)); err == nil {
			t.Fatal("nil http.Client accepted")
		}
	})
}

// writeCA writes the TLS test server's certificate as a PEM file.
func writeCA(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(f, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTLS(t *testing.T) {
	c := ctx(t)
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"admin":true,"agent":null,"generator":null,"readonly":false}`)
	}))
	t.Cleanup(ts.Close)
	ca := writeCA(t, ts)
	noRetry := client.WithRetry(client.RetryPolicy{MaxAttempts: 1})

	if _, err := newClient(t, ts.URL, noRetry).Auth().Verify(c); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	if who, err := newClient(t, ts.URL, client.WithTLS(client.TLSOptions{CAFile: ca})).Auth().Verify(c); err != nil || !who.Admin {
		t.Fatalf("with the CA file: %+v, %v", who, err)
	}
	// The test certificate names example.com besides the loopback address.
	if _, err := newClient(t, ts.URL, client.WithTLS(client.TLSOptions{CAFile: ca, ServerName: "example.com"})).Auth().Verify(c); err != nil {
		t.Fatalf("with a matching server name: %v", err)
	}
	if _, err := newClient(t, ts.URL, noRetry, client.WithTLS(client.TLSOptions{CAFile: ca, ServerName: "elsewhere.invalid"})).Auth().Verify(c); err == nil {
		t.Fatal("a mismatched server name was accepted")
	}
	if who, err := newClient(t, ts.URL, client.WithTLS(client.TLSOptions{InsecureSkipVerify: true})).Auth().Verify(c); err != nil || !who.Admin {
		t.Fatalf("without verification: %+v, %v", who, err)
	}
	// TLS options apply to a caller's own transport too.
	hc := &http.Client{Transport: &http.Transport{}}
	if _, err := newClient(t, ts.URL, client.WithHTTPClient(hc), client.WithTLS(client.TLSOptions{CAFile: ca})).Auth().Verify(c); err != nil {
		t.Fatalf("own transport with the CA file: %v", err)
	}

	if _, err := client.New(ts.URL, client.WithTLS(client.TLSOptions{CAFile: filepath.Join(t.TempDir(), "missing.pem")})); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(ts.URL, client.WithTLS(client.TLSOptions{CAFile: junk})); err == nil || !strings.Contains(err.Error(), "no certificates") {
		t.Fatalf("a CA file without certificates: %v", err)
	}
}

// recorded is what a recording server saw of one request.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	body                   string
}

// recorder answers every request with status and body and records it.
func recorder(t *testing.T, status int, contentType, body string) (string, func() recorded) {
	t.Helper()
	var mu sync.Mutex
	var last recorded
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = recorded{method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: string(b)}
		mu.Unlock()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, func() recorded {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func TestRequests(t *testing.T) {
	c := ctx(t)
	id := uuid.MustParse("0b6bde1e-67a7-4a1c-9cde-3f6d1d0e5a11")

	t.Run("headers", func(t *testing.T) {
		base, last := recorder(t, 200, "application/json", `{"admin":true,"agent":null,"generator":null,"readonly":false}`)
		if _, err := newClient(t, base).Auth().Verify(c); err != nil {
			t.Fatal(err)
		}
		r := last()
		if r.header.Get("User-Agent") != client.DefaultUserAgent || r.header.Get("Authorization") != "Bearer brokkr_BRtest_key" ||
			r.header.Get("Accept") != "application/json" || r.header.Get("Content-Type") != "" || r.method != "POST" || r.path != "/api/v1/auth/pak" {
			t.Fatalf("request %+v", r)
		}
		if _, err := newClient(t, base, client.WithUserAgent("brokkrctl/1.2.0")).Auth().Verify(c); err != nil {
			t.Fatal(err)
		}
		if ua := last().header.Get("User-Agent"); ua != "brokkrctl/1.2.0" {
			t.Fatalf("user agent %q", ua)
		}
		anon, err := client.New(base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := anon.Auth().Verify(c); err != nil {
			t.Fatal(err)
		}
		if h, ok := last().header["Authorization"]; ok {
			t.Fatalf("anonymous client sent Authorization %q", h)
		}
	})

	t.Run("raw YAML", func(t *testing.T) {
		base, last := recorder(t, 201, "application/json", `{"id":"`+id.String()+`"}`)
		if _, err := newClient(t, base).Stacks().CreateDeploymentObject(c, id, "", true); err != nil {
			t.Fatal(err)
		}
		r := last()
		if r.header.Get("Content-Type") != "application/yaml" || r.rawQuery != "deletion_marker=true" || r.body != "" ||
			r.path != "/api/v1/stacks/"+id.String()+"/deployment-objects" {
			t.Fatalf("request %+v", r)
		}
	})

	t.Run("YAML answer", func(t *testing.T) {
		base, last := recorder(t, 200, "application/yaml", "a: 1\n")
		y, err := newClient(t, base).DeploymentObjects().GetYAML(c, id)
		if err != nil || y != "a: 1\n" || last().header.Get("Accept") != "application/yaml" {
			t.Fatalf("%q, %v, %+v", y, err, last())
		}
	})

	t.Run("bare JSON string label", func(t *testing.T) {
		base, last := recorder(t, 201, "application/json", `{"id":"`+id.String()+`","stack_id":"`+id.String()+`","label":"env:prod"}`)
		if _, err := newClient(t, base).Stacks().AddLabel(c, id, "env:prod"); err != nil {
			t.Fatal(err)
		}
		if r := last(); r.body != `"env:prod"` || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("request %+v", r)
		}
	})

	t.Run("path segments are escaped", func(t *testing.T) {
		base, last := recorder(t, 204, "", "")
		if err := newClient(t, base).Agents().RemoveLabel(c, id, "team/a b?"); err != nil {
			t.Fatal(err)
		}
		if p := last().path; p != "/api/v1/agents/"+id.String()+"/labels/team%2Fa%20b%3F" {
			t.Fatalf("path %q", p)
		}
	})

	t.Run("search uses the trailing slash", func(t *testing.T) {
		base, last := recorder(t, 200, "application/json", `{"id":"`+id.String()+`"}`)
		a, err := newClient(t, base).Agents().Search(c, "edge 1", "eu&1")
		if err != nil || a.ID != id {
			t.Fatalf("%+v, %v", a, err)
		}
		if r := last(); r.path != "/api/v1/agents/" || r.rawQuery != "cluster_name=eu%261&name=edge+1" {
			t.Fatalf("request %+v", r)
		}
	})

	t.Run("register sends an empty object for the calling agent", func(t *testing.T) {
		base, last := recorder(t, 201, "application/json", `{}`)
		if _, err := newClient(t, base).Generators().Register(c, id, nil); err != nil {
			t.Fatal(err)
		}
		if r := last(); r.body != "{}" {
			t.Fatalf("body %q", r.body)
		}
	})

	t.Run("audit log filters", func(t *testing.T) {
		base, last := recorder(t, 200, "application/json", `{"logs":[],"total":0,"count":0,"limit":10,"offset":0}`)
		from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
		_, err := newClient(t, base).Admin().AuditLogs(c, &client.AuditLogOptions{ActorType: "agent", ActorID: &id, Action: "agent.*",
			ResourceType: "stack", ResourceID: &id, From: from, To: from.Add(time.Hour), Limit: 10, Offset: 20})
		if err != nil {
			t.Fatal(err)
		}
		want := "action=agent.%2A&actor_id=" + id.String() + "&actor_type=agent&from=2026-01-02T02%3A04%3A05Z&limit=10&offset=20" +
			"&resource_id=" + id.String() + "&resource_type=stack&to=2026-01-02T03%3A04%3A05Z"
		if q := last().rawQuery; q != want {
			t.Fatalf("query %s\nwant  %s", q, want)
		}
	})
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:1":                       "http://h:1",
		"http://h:1/":                      "http://h:1",
		"http://h:1/api/v1":                "http://h:1",
		"http://h:1/api/v1/":               "http://h:1",
		" https://h:1/brokkr/api/v1/?x=1 ": "https://h:1/brokkr",
	} {
		c, err := client.New(in)
		if err != nil || c.BaseURL() != want {
			t.Errorf("New(%q): %v, %v; want %s", in, c, err, want)
		}
	}
	for _, bad := range []string{"", "h:1", "/api/v1", "ftp://h:1", "http://"} {
		if _, err := client.New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}

	// Requests go below the prefix of a broker behind a path-routing proxy.
	base, last := recorder(t, 200, "application/json", `[]`)
	c := newClient(t, base+"/brokkr/api/v1/")
	if _, err := c.Stacks().List(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if p := last().path; p != "/brokkr/api/v1/stacks" {
		t.Fatalf("path %q", p)
	}
	if c.PAK() != "brokkr_BRtest_key" {
		t.Fatalf("PAK %q", c.PAK())
	}
}
