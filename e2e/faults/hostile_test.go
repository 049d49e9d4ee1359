package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
)

// hostile is a raw HTTP client for requests a well-behaved client would never send.
type hostile struct {
	t    *testing.T
	base string
	hc   *http.Client
}

type answer struct {
	status int
	body   string
	header http.Header
}

func (h *hostile) send(method, path, key, contentType string, body []byte) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return answer{status: res.StatusCode, body: string(b), header: res.Header}
}

// clientError checks a 4xx answer with a JSON error code.
func (h *hostile) clientError(what string, a answer, statuses ...int) string {
	h.t.Helper()
	var b struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal([]byte(a.body), &b)
	ok := a.status >= 400 && a.status < 500 && b.Code != ""
	if len(statuses) > 0 {
		ok = false
		for _, s := range statuses {
			ok = ok || (a.status == s && b.Code != "")
		}
	}
	if !ok {
		h.t.Errorf("%s: %d %.300s", what, a.status, a.body)
	}
	return b.Code
}

// metric returns the sum of a metric's samples on /metrics, and its number of series.
func metric(t *testing.T, base, name string) (float64, int) {
	t.Helper()
	res, err := http.Get(base + "/metrics") //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var sum float64
	series := 0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
		series++
	}
	return sum, series
}

// TestHostileClients sends a running broker what a hostile tenant or a stranger can: each
// input that once crashed it or cost it without bound, malformed and oversized bodies, slow
// bodies, odd methods, injection-shaped names and thousands of WebSocket upgrades. Every
// request gets a clear client error, the broker is up at the end with its goroutines back
// where they were, and nothing was half-written.
func TestHostileClients(t *testing.T) {
	db := startDatabase(t)
	c := newCluster(t, db, "BROKKR__BROKER__READ_TIMEOUT_SECONDS=2")
	r := c.start("hostile", "")
	ctx := context.Background()
	admin := r.client(c.adminPAK)
	gen, err := admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "tenant"})
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{t: t, base: r.URL, hc: &http.Client{Timeout: 30 * time.Second}}
	baseline, _ := metric(t, r.URL, "go_goroutines")

	t.Run("a template nested 150,000 deep", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"name": "deep", "template_content": "{{ " + strings.Repeat("[", 150_000),
			"parameters_schema": `{"type":"object"}`})
		h.clientError("deep template", h.send("POST", "/api/v1/templates", gen.PAK, "application/json", body), 400, 422)
	})

	t.Run("a template that sorts in a loop is cut off", func(t *testing.T) {
		tmpl := "{% for i in range(end=200000) %}{{ range(end=100000) | sort | length }}{% endfor %}"
		body, _ := json.Marshal(map[string]any{"name": "slow", "template_content": tmpl, "parameters_schema": `{"type":"object"}`})
		a := h.send("POST", "/api/v1/templates", gen.PAK, "application/json", body)
		if a.status == http.StatusCreated {
			var created struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal([]byte(a.body), &created)
			start := time.Now()
			inst, _ := json.Marshal(map[string]any{"template_id": created.ID, "parameters": map[string]any{}})
			st, err := admin.Stacks().Create(ctx, client.CreateStackRequest{Name: "slow", GeneratorID: gen.Generator.ID})
			if err != nil {
				t.Fatal(err)
			}
			a = h.send("POST", "/api/v1/stacks/"+st.ID.String()+"/deployment-objects/from-template", gen.PAK, "application/json", inst)
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("rendering took %s", took)
			}
		}
		h.clientError("expensive template", a, 400, 422, 429)
	})

	t.Run("a NUL in a path with a bad key loses no audit entry", func(t *testing.T) {
		for range 3 {
			h.clientError("NUL path", h.send("GET", "/api/v1/agents/%00", "brokkr_BRbad0000_nope", "", nil), 400, 401)
			// A bad key with a user agent PostgreSQL cannot store as it is (not UTF-8, 100 KB).
			req, _ := http.NewRequest("GET", r.URL+"/api/v1/agents", nil)
			req.Header.Set("Authorization", "Bearer brokkr_BRbad0000_nope")
			req.Header.Set("User-Agent", "\xff\xfe"+strings.Repeat("u", 100_000))
			res, err := h.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("bad key: %d", res.StatusCode)
			}
		}
		if _, err := admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "audited"}); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		eventually(t, 15*time.Second, "the admin's audit entry", func() bool {
			var n int
			err := conn.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE action = 'generator.created' AND details->>'name' = 'audited'").Scan(&n)
			return err == nil && n == 1
		})
		var failed int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE action = 'auth.failed'").Scan(&failed); err != nil || failed == 0 {
			t.Fatalf("no auth.failed entries: %d %v", failed, err)
		}
	})

	t.Run("random methods do not grow the metrics", func(t *testing.T) {
		for i := range 300 {
			req, _ := http.NewRequest(fmt.Sprintf("RANDOM%d", i), r.URL+"/healthz", nil)
			if res, err := h.hc.Do(req); err == nil {
				_ = res.Body.Close()
			}
			req, _ = http.NewRequest("GET", fmt.Sprintf("%s/no/such/path/%d", r.URL, i), nil)
			if res, err := h.hc.Do(req); err == nil {
				_ = res.Body.Close()
			}
		}
		if _, series := metric(t, r.URL, "brokkr_http_requests_total"); series > 100 {
			t.Fatalf("%d request series after 600 odd requests", series)
		}
	})

	t.Run("malformed bodies", func(t *testing.T) {
		for _, b := range []string{`{`, `{"name":`, `[1,2`, `{"name": "x"} trailing`, "\x00\x01\x02", `{"name": 5}`, `"just a string"`} {
			h.clientError("malformed "+b, h.send("POST", "/api/v1/agents", c.adminPAK, "application/json", []byte(b)))
		}
		h.clientError("wrong content type", h.send("POST", "/api/v1/agents", c.adminPAK, "text/plain", []byte(`{"name":"a","cluster_name":"b"}`)), 415)
		st, err := admin.Stacks().Create(ctx, client.CreateStackRequest{Name: "yaml", GeneratorID: gen.Generator.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, y := range []string{"a: [", "\t- x", "{{{", "key: value\n  bad indent: 1"} {
			body, _ := json.Marshal(map[string]any{"yaml_content": y})
			h.clientError("malformed YAML "+y, h.send("POST", "/api/v1/stacks/"+st.ID.String()+"/deployment-objects", c.adminPAK, "application/json", body))
		}
	})

	t.Run("oversized body", func(t *testing.T) {
		body := append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 3<<20)...)
		h.clientError("3 MiB body", h.send("POST", "/api/v1/agents", c.adminPAK, "application/json", body), 413)
	})

	t.Run("slow body is cut off by the read timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		fmt.Fprintf(conn, "POST /api/v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", c.adminPAK)
		start := time.Now()
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			buf := make([]byte, 4096)
			for {
				_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, err := conn.Read(buf); err != nil {
					return
				}
			}
		}()
		for {
			select {
			case <-closed:
				if took := time.Since(start); took > 10*time.Second {
					t.Fatalf("slow body held for %s", took)
				}
				return
			case <-time.After(500 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return // the server closed the connection
				}
				if time.Since(start) > 20*time.Second {
					t.Fatal("a slow body is still being read after 20 s")
				}
			}
		}
	})

	t.Run("invalid UUIDs and injection-shaped names", func(t *testing.T) {
		for _, p := range []string{"/api/v1/agents/not-a-uuid", "/api/v1/stacks/1'%20OR%20'1'='1", "/api/v1/agents/..%2F..%2Fetc%2Fpasswd", "/api/v1/templates/%ff"} {
			h.clientError("GET "+p, h.send("GET", p, c.adminPAK, "", nil))
		}
		names := []string{"'; DROP TABLE agents; --", "../../etc/passwd", "<script>alert(1)</script>", "$(rm -rf /)", "a\\u0000b"}
		for i, n := range names {
			body, _ := json.Marshal(map[string]any{"name": n, "cluster_name": fmt.Sprintf("c%d", i)})
			a := h.send("POST", "/api/v1/agents", c.adminPAK, "application/json", body)
			if a.status != http.StatusCreated {
				h.clientError("agent named "+n, a)
				continue
			}
			var got struct {
				Agent struct {
					Name string `json:"name"`
				} `json:"agent"`
			}
			if err := json.Unmarshal([]byte(a.body), &got); err != nil || got.Agent.Name != n {
				t.Errorf("agent named %q stored as %q", n, got.Agent.Name)
			}
		}
		if _, err := admin.Agents().List(ctx); err != nil {
			t.Fatalf("agents after the injection-shaped names: %v", err)
		}
	})

	t.Run("thousands of concurrent WebSocket upgrades", func(t *testing.T) {
		wsURL := "ws" + strings.TrimPrefix(r.URL, "http") + "/api/v1/fleet/live"
		const n = 2000
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			conns    []*websocket.Conn
			refused  atomic.Int64
			accepted atomic.Int64
		)
		sem := make(chan struct{}, 200)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				hdr := http.Header{}
				if i%2 == 0 {
					hdr.Set("Authorization", "Bearer "+c.adminPAK)
				}
				dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				conn, res, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: hdr})
				if res != nil && res.Body != nil {
					_ = res.Body.Close()
				}
				if err != nil {
					refused.Add(1)
					return
				}
				accepted.Add(1)
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}()
		}
		wg.Wait()
		t.Logf("%d upgrades accepted, %d refused", accepted.Load(), refused.Load())
		if refused.Load() < n/2 {
			t.Errorf("only %d of %d unauthenticated upgrades were refused", refused.Load(), n/2)
		}
		if !r.ready() {
			t.Fatal("the broker is not ready with the sockets open")
		}
		for _, conn := range conns {
			_ = conn.Close(websocket.StatusNormalClosure, "")
		}
	})

	// The broker is up, its goroutines are back near where they were, and every agent the
	// test created exists whole (name and cluster stored together).
	if !r.ready() {
		t.Fatal("the broker is not ready at the end")
	}
	eventually(t, 30*time.Second, "the broker's goroutines to return to their baseline", func() bool {
		now, _ := metric(t, r.URL, "go_goroutines")
		return now <= baseline+20
	})
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var torn int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM agents WHERE name = '' OR cluster_name = ''").Scan(&torn); err != nil || torn != 0 {
		t.Fatalf("half-written agents: %d %v", torn, err)
	}
	if regexp.MustCompile(`panic|fatal error`).MatchString(r.logs.String()) {
		t.Fatalf("the broker logged a panic:\n%s", r.logs.String())
	}
}
