package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
)

// slowRequest is a POST /generators whose body is held back, so that it occupies an
// admission slot (authentication passed, the handler reading the body) until finish.
type slowRequest struct {
	pw   *io.PipeWriter
	done chan int // the final status (0 on a transport error)
}

func startSlowRequest(t *testing.T, baseURL, adminKey string) *slowRequest {
	t.Helper()
	pr, pw := io.Pipe()
	r, err := http.NewRequest(http.MethodPost, baseURL+"/api/v1/generators", pr)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+adminKey)
	r.Header.Set("Content-Type", "application/json")
	s := &slowRequest{pw: pw, done: make(chan int, 1)}
	go func() {
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			s.done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		s.done <- res.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"name":`)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pw.Close() })
	return s
}

// finish sends the rest of the body and returns the answer's status.
func (s *slowRequest) finish(t *testing.T, name string) int {
	t.Helper()
	if _, err := fmt.Fprintf(s.pw, "%q}", name); err != nil {
		t.Fatal(err)
	}
	_ = s.pw.Close()
	select {
	case status := <-s.done:
		return status
	case <-time.After(10 * time.Second):
		t.Fatal("slow request did not complete")
		return 0
	}
}

// metricValue reads one unlabelled sample from /metrics.
func metricValue(t *testing.T, baseURL, name string) float64 {
	t.Helper()
	_, body, _ := get(t, baseURL+"/metrics")
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return 0
}

// waitMetric waits until a metric has the wanted value.
func waitMetric(t *testing.T, baseURL, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := metricValue(t, baseURL, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdmissionControl(t *testing.T) {
	const queueWait = 1500 * time.Millisecond
	e := newEnv(t, func(c *config.Broker) {
		c.Broker.MaxInflightRequests = 2
		c.Broker.MaxQueueWaitMillis = int(queueWait / time.Millisecond)
	})

	// Two requests whose bodies are still on their way hold both slots.
	holders := []*slowRequest{startSlowRequest(t, e.url, e.admin), startSlowRequest(t, e.url, e.admin)}
	waitMetric(t, e.url, "brokkr_http_inflight_requests", 2)

	t.Run("a request beyond the bound is refused within the queue time", func(t *testing.T) {
		e := e.withT(t)
		start := time.Now()
		r := e.expectError(http.StatusTooManyRequests, "overloaded", req{method: "GET", path: "/api/v1/agents", pak: e.admin})
		took := time.Since(start)
		if took < queueWait-50*time.Millisecond || took > queueWait+3*time.Second {
			t.Errorf("refused after %v, want about the queue time %v", took, queueWait)
		}
		after, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || after < 1 || after > 3 {
			t.Errorf("Retry-After %q, want 1 to 3 seconds", r.header.Get("Retry-After"))
		}
		var body client.ErrorBody
		r.decode(t, &body)
		if body.Details["retry_after_seconds"] != float64(after) {
			t.Errorf("details %v, want retry_after_seconds %d", body.Details, after)
		}
		if n := metricValue(t, e.url, "brokkr_http_rejected_requests_total"); n < 1 {
			t.Errorf("rejected requests metric %v", n)
		}
	})

	t.Run("the typed client sees the refusal and its Retry-After", func(t *testing.T) {
		c, err := client.New(e.url, client.WithPAK(e.admin), client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Agents().List(context.Background())
		ce, ok := client.AsError(err)
		if !ok || ce.StatusCode != http.StatusTooManyRequests || ce.Code != "overloaded" || ce.RetryAfter < time.Second {
			t.Fatalf("err %v (%+v)", err, ce)
		}
	})

	t.Run("operations endpoints answer at once", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			start := time.Now()
			if code, body, _ := get(t, e.url+p); code != http.StatusOK {
				t.Errorf("%s: %d %.100s", p, code, body)
			}
			if took := time.Since(start); took >= queueWait {
				t.Errorf("%s took %v: it waited for a slot", p, took)
			}
		}
	})

	t.Run("a request that finds the queue full is refused at once", func(t *testing.T) {
		e := e.withT(t)
		// As many requests wait as may be served (2); they are refused after the queue time.
		queued := make(chan resp, 2)
		for range 2 {
			go func() { queued <- e.do(req{method: "GET", path: "/api/v1/agents", pak: e.admin}) }()
		}
		waitMetric(t, e.url, "brokkr_http_queued_requests", 2)
		start := time.Now()
		e.expectError(http.StatusTooManyRequests, "overloaded", req{method: "GET", path: "/api/v1/agents", pak: e.admin})
		if took := time.Since(start); took >= queueWait/2 {
			t.Errorf("refused after %v: it waited", took)
		}
		for range 2 {
			if r := <-queued; r.status != http.StatusTooManyRequests {
				t.Errorf("queued request: %d %s", r.status, r.body)
			}
		}
	})

	t.Run("a queued request gets the slot a finished one frees", func(t *testing.T) {
		e := e.withT(t)
		got := make(chan resp, 1)
		go func() { got <- e.do(req{method: "GET", path: "/api/v1/agents", pak: e.admin}) }()
		waitMetric(t, e.url, "brokkr_http_queued_requests", 1)
		if status := holders[0].finish(t, "h1"); status != http.StatusCreated {
			t.Fatalf("held request: %d", status)
		}
		if r := <-got; r.status != http.StatusOK {
			t.Fatalf("queued request: %d %s", r.status, r.body)
		}
	})

	if status := holders[1].finish(t, "h2"); status != http.StatusCreated {
		t.Fatalf("held request: %d", status)
	}
	waitMetric(t, e.url, "brokkr_http_inflight_requests", 0)
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1/agents", pak: e.admin})
}

func TestAdmissionWebSockets(t *testing.T) {
	e := newEnv(t, func(c *config.Broker) {
		c.Broker.MaxInflightRequests = 1
		c.Broker.MaxQueueWaitMillis = 200
	})
	admin, err := client.New(e.url, client.WithPAK(e.admin))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// An open channel gives its slot back once upgraded.
	sub, err := admin.Live().Fleet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitMetric(t, e.url, "brokkr_http_inflight_requests", 0)
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1/agents", pak: e.admin})

	// An upgrade is a request like any other while it is being accepted.
	holder := startSlowRequest(t, e.url, e.admin)
	waitMetric(t, e.url, "brokkr_http_inflight_requests", 1)
	_, err = admin.Live().Fleet(ctx)
	if ce, ok := client.AsError(err); !ok || ce.StatusCode != http.StatusTooManyRequests || ce.RetryAfter < time.Second {
		t.Fatalf("upgrade with no free slot: %v", err)
	}
	if status := holder.finish(t, "h"); status != http.StatusCreated {
		t.Fatalf("held request: %d", status)
	}
	second, err := admin.Live().Fleet(ctx)
	if err != nil {
		t.Fatalf("upgrade once the slot is free: %v", err)
	}
	_ = second.Close()
}

// serve runs a second broker on e's database through Serve (the production server, with its
// timeouts) and returns its address.
func serve(t *testing.T, e *env) string {
	t.Helper()
	srv, err := server.New(server.Options{Config: e.cfg, DB: e.db})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestReadTimeout(t *testing.T) {
	const timeout = time.Second
	e := newEnv(t, func(c *config.Broker) { c.Broker.ReadTimeoutSeconds = int(timeout / time.Second) })
	addr := serve(t, e)

	t.Run("a slow body is cut off", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /api/v1/generators HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":", addr, e.admin)
		// Nothing more is sent. The broker must give up on the body and close the connection
		// (answering first or not); reading until EOF shows when.
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err = io.Copy(io.Discard, conn)
		took := time.Since(start)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", took)
		}
		if took < timeout-100*time.Millisecond || took > timeout+3*time.Second {
			t.Fatalf("connection closed after %v, want about %v", took, timeout)
		}
	})

	t.Run("a WebSocket outlives the read timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/fleet/live",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.admin}}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ws.CloseNow() }()
		go func() { // reads answer the pings
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		for i := range 3 {
			time.Sleep(timeout)
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			err := ws.Ping(pctx)
			pcancel()
			if err != nil {
				t.Fatalf("ping %d s after the upgrade: %v", i+1, err)
			}
		}
	})

	t.Run("a keep-alive connection serves requests past the read timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		for i := range 2 {
			if i > 0 {
				time.Sleep(timeout + 200*time.Millisecond)
			}
			fmt.Fprintf(conn, "GET /api/v1/agents HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, e.admin)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d", i+1, res.StatusCode)
			}
		}
	})
}

// TestWriteTimeout: a client that stops reading an answer is cut off once a write has waited
// for it longer than the timeout, instead of holding the broker's goroutine for ever.
func TestWriteTimeout(t *testing.T) {
	const size = 24 << 20 // more than the kernel buffers of both ends hold
	// The object is created under the default timeout (on a loaded machine a client may take
	// more than a second to take the 24 MiB echo of the create); only the broker that serves
	// the read below has the one-second timeout.
	e := newEnv(t, func(c *config.Broker) { c.Broker.MaxBodyBytes = 2 * size })
	g := e.createGenerator("g")
	st := e.createStack("big", g.gen.ID, g.pak)
	obj := e.createObject(st.ID, g.pak, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  k: "+strings.Repeat("x", size)+"\n")

	short := *e
	short.cfg.Broker.ReadTimeoutSeconds = 1
	addr := serve(t, &short)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/deployment-objects/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", obj.ID, addr, e.admin)
	time.Sleep(4 * time.Second) // not reading: the broker's write waits, then gives up
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	if err == nil {
		t.Fatalf("the whole answer (%d bytes) arrived: the broker waited for the reader", n)
	}
	if n >= size {
		t.Fatalf("read %d bytes, then %v", n, err)
	}
}

func TestKeepAliveShedding(t *testing.T) {
	e := newEnv(t, func(c *config.Broker) { c.Broker.MaxKeepAliveConnections = 2 })
	addr := serve(t, e)
	type conn struct {
		net.Conn
		r *bufio.Reader
	}
	dial := func() conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return conn{c, bufio.NewReader(c)}
	}
	// keptAlive sends a request on c and reports whether the answer keeps the connection.
	keptAlive := func(c conn) bool {
		t.Helper()
		fmt.Fprintf(c, "GET /api/v1/agents HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, e.admin)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(c.r, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		if res.Close {
			// The broker closes its end; net/http lingers up to half a second before it lets
			// go of the connection, which only then leaves the count.
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatal(err)
			}
			_ = c.Close()
			time.Sleep(time.Second)
		}
		return !res.Close
	}
	a := dial()
	if !keptAlive(a) {
		t.Fatal("the first connection was not kept alive")
	}
	b := dial()
	if !keptAlive(b) {
		t.Fatal("the second connection was not kept alive")
	}
	if keptAlive(dial()) {
		t.Fatal("a third connection was kept alive past broker.max_keepalive_connections = 2")
	}
	// Once it is gone, the first two are still served and kept.
	if !keptAlive(a) || !keptAlive(b) {
		t.Fatal("connections within the bound were closed")
	}
	if n := metricValue(t, "http://"+addr, "brokkr_http_open_connections"); n < 2 || n > 3 {
		t.Errorf("open connections metric %v, want 2 (3 with the scrape's own)", n)
	}
}

func TestReadinessFollowsTheNotificationListener(t *testing.T) {
	e := newEnv(t)
	start(t, e.srv)
	readyz := func() (int, string) {
		code, body, _ := get(t, e.url+"/readyz")
		return code, body
	}
	waitFor := func(what string, wantCode int, wantBody string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := readyz()
			if code == wantCode && body == wantBody {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: readyz %d %q, want %d %q", what, code, body, wantCode, wantBody)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("listener connected", http.StatusOK, "Ready")

	ctx := context.Background()
	var name string
	if err := e.db.GetContext(ctx, &name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	// A database's connections are switched from another one of the same server.
	u, err := url.Parse(e.db.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	other, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close(context.Background()) })
	allow := func(on bool) {
		if _, err := other.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS %t", pgx.Identifier{name}.Sanitize(), on)); err != nil {
			t.Fatal(err)
		}
	}
	// The listener cannot come back while new connections are refused; the broker's pool
	// keeps the ones it has, so the database itself stays reachable.
	allow(false)
	t.Cleanup(func() { allow(true) })
	var killed int
	if err := e.db.GetContext(ctx, &killed, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN %') t`); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no listening backend found")
	}
	waitFor("listener killed", http.StatusServiceUnavailable, "notification listener disconnected")
	if code, _, _ := get(t, e.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}

	allow(true)
	waitFor("listener reconnected", http.StatusOK, "Ready")
}
