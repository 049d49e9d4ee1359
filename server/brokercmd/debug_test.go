package brokercmd

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestDebugListenerServesTheProfilerOnly(t *testing.T) {
	d, err := startDebug(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + d.Addr()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path) //nolint:noctx // test
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("index: %d %.200s", code, body)
	}
	if code, body := get("/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "startDebug") {
		t.Fatalf("goroutine profile: %d %.200s", code, body)
	}
	if code, body := get("/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("heap profile: %d %.200s", code, body)
	}
	if code, _ := get("/api/v1/agents"); code != http.StatusNotFound {
		t.Fatalf("the API on the profiler's listener: %d", code)
	}
	// The address is taken: a second profiler on it fails at once.
	if _, err := startDebug(context.Background(), d.Addr(), slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "broker.debug_listen_addr") {
		t.Fatalf("second listener on %s: %v", d.Addr(), err)
	}
	d.stop()
	if _, err := http.Get(base + "/debug/pprof/"); err == nil { //nolint:noctx,bodyclose // test
		t.Fatal("the profiler still answers after stop")
	}
}
