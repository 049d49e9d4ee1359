package client_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/brokkr/brokkr/api/openapitest"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// broker is a real broker on its own fresh database behind an httptest server.
type broker struct {
	t     *testing.T
	srv   *server.Server
	url   string
	admin string // the admin PAK
	v     *openapitest.Validator
}

// newBroker starts a broker. Its configuration reload answers with a changed webhook
// delivery batch size.
func newBroker(t *testing.T) *broker {
	t.Helper()
	var reloaded config.Broker
	b := servertest.New(t, servertest.Options{
		Configure: func(cfg *config.Broker) {
			reloaded = *cfg
			reloaded.Broker.WebhookDeliveryBatchSize = cfg.Broker.WebhookDeliveryBatchSize + 1
		},
		Reload: func() (config.Broker, error) { return reloaded, nil },
	})
	return &broker{t: t, srv: b.Server, url: b.URL, admin: b.AdminPAK, v: openapitest.New(t)}
}

// client returns a client authenticating with key whose every exchange under /api/v1 —
// request and response — is checked against the API document.
func (b *broker) client(key string, opts ...client.Option) *client.Client {
	b.t.Helper()
	hc := &http.Client{Transport: &checking{t: b.t, v: b.v, next: http.DefaultTransport}}
	all := append([]client.Option{client.WithPAK(key), client.WithHTTPClient(hc),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 1})}, opts...)
	c, err := client.New(b.url, all...)
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

// checking validates requests and responses against the API document.
type checking struct {
	t    *testing.T
	v    *openapitest.Validator
	next http.RoundTripper
}

func (c *checking) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		reqBody, err = io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.v.Check(c.t, req, reqBody, resp, body)
	return resp, nil
}

// ctx returns a context that ends with the test or after a minute.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// must returns a check that fails the test when err is not nil and returns v otherwise:
// must(c.Agents().Get(ctx, id))(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// ok fails the test when err is not nil.
func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// eventually polls cond for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
