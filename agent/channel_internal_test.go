package agent

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
)

// TestWebSocketDialHonoursRetryAfter: a broker that refuses the channel with 429 and
// Retry-After: 2 is not dialled again before two seconds, although the backoff starts at one.
func TestWebSocketDialHonoursRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var attempts []time.Time
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/internal/ws/agent" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()
		w.Header().Set("Retry-After", "2")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"code":"overloaded","message":"busy"}`)
	}))
	defer ts.Close()
	c, err := client.New(ts.URL, client.WithPAK("brokkr_BRtest_key"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{client: c, log: slog.New(slog.DiscardHandler),
		reconcileNow: make(chan struct{}, 1), workNow: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	a.websocket(ctx) // returns when ctx ends

	mu.Lock()
	defer mu.Unlock()
	if len(attempts) < 2 {
		t.Fatalf("%d dial attempts in 3.5 s, want 2", len(attempts))
	}
	if gap := attempts[1].Sub(attempts[0]); gap < 1900*time.Millisecond {
		t.Fatalf("dialled again after %v, before the 2 s Retry-After", gap)
	}
}
