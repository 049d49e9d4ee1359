package brokercmd_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/internal/syncbuf"
	"github.com/brokkr/brokkr/internal/tracing/tracingtest"
	"github.com/brokkr/brokkr/server/brokercmd"
)

// TestServeExportsTraces runs `brokkr-broker serve` with [telemetry] enabled: it announces
// the exporter, and the span of a request made just before it stops reaches the collector,
// flushed on shutdown (the exporter's own schedule would send it seconds later).
func TestServeExportsTraces(t *testing.T) {
	r := tracingtest.Start(t)
	d := newEmbeddedDir(t)
	t.Setenv("BROKKR__TELEMETRY__ENABLED", "true")
	t.Setenv("BROKKR__TELEMETRY__OTLP_ENDPOINT", r.GRPCEndpoint)
	t.Setenv("BROKKR__TELEMETRY__SAMPLING_RATE", "1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var logs syncbuf.Buffer
	cmd := brokercmd.NewCommand(outW, &logs)
	cmd.SetArgs([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", d.dataDir, "--log-format", "text"})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		outW.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		var out []byte
		buf := make([]byte, 4096)
		for {
			n, err := outR.Read(buf)
			out = append(out, buf[:n]...)
			if m := regexp.MustCompile(`listening on (http://\S+)`).FindSubmatch(out); m != nil {
				addr <- string(m[1])
				_, _ = io.Copy(io.Discard, outR)
				return
			}
			if err != nil {
				close(addr)
				return
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case <-time.After(90 * time.Second):
		t.Fatal("serve did not start")
	}
	if base == "" {
		t.Fatalf("serve exited early: %v\n%s", <-done, logs.String())
	}
	if line := logs.String(); !strings.Contains(line, "exporting traces") || !strings.Contains(line, "service_name=brokkr-broker") ||
		!strings.Contains(line, "protocol=grpc") || !strings.Contains(line, "sampling_rate=1") {
		t.Errorf("no startup line naming the exporter:\n%s", line)
	}
	res, err := http.Get(base + "/api/v1/agents") //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/agents without a key: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
	got := tracingtest.Find(r.Spans(), func(s tracingtest.Span) bool {
		return s.Name == "GET /api/v1/agents" && s.Service == "brokkr-broker" && s.IntAttr("http.response.status_code") == 401
	})
	if len(got) != 1 {
		t.Fatalf("the request's span was not exported by the time serve returned:\n%s", tracingtest.Describe(r.Spans()))
	}
}
