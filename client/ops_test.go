package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/brokkr/brokkr/client"
)

func TestReady(t *testing.T) {
	b := newBroker(t)
	if err := b.client("").Ready(context.Background()); err != nil {
		t.Fatalf("ready broker: %v", err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			t.Errorf("path %s", r.URL.Path)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	c, err := client.New(down.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(context.Background()); !isStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("unready broker: %v", err)
	}
}

func isStatus(err error, status int) bool {
	e, ok := client.AsError(err)
	return ok && e.StatusCode == status
}
