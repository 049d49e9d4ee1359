package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/brokkr/brokkr/client"
)

func TestHealthzAsksOnceWithoutCredentials(t *testing.T) {
	var calls atomic.Int32
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/healthz" || r.Header.Get("Authorization") != "" {
			t.Errorf("got %s with Authorization %q", r.URL.Path, r.Header.Get("Authorization"))
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer ts.Close()
	c, err := client.New(ts.URL + "/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Healthz(context.Background())
	if err != nil || got != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Fatalf("Healthz = %d, %v after %d calls; want 503 after one call", got, err, calls.Load())
	}
	status.Store(http.StatusOK)
	if got, err := c.Healthz(context.Background()); err != nil || got != http.StatusOK {
		t.Fatalf("Healthz = %d, %v", got, err)
	}
}

func TestHealthzUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Healthz(context.Background()); err == nil {
		t.Fatal("no error from a closed server")
	}
}
