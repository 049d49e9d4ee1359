// Package client is the typed Go client of the brokkr broker's v1 API, and the home of the
// API's wire types. It depends on the standard library, google/uuid and, for the live
// channels, coder/websocket.
//
//	c, err := client.New("http://127.0.0.1:3000", client.WithPAK(os.Getenv("BROKKR_PAK")))
//	stacks, err := c.Stacks().List(ctx, nil)
//
// Every non-2xx response becomes a *Error carrying the status, the server's stable error
// code, message and details; IsNotFound, IsConflict and friends test for the common cases.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent is sent unless WithUserAgent replaces it.
const DefaultUserAgent = "brokkr-go-client"

// Client talks to one broker. It is safe for concurrent use.
type Client struct {
	base      *url.URL // broker root, e.g. http://host:3000
	http      *http.Client
	pak       string
	userAgent string
	retry     RetryPolicy
	tls       *tls.Config
	timeout   time.Duration
}

// RetryPolicy controls retries of idempotent requests (GET, PUT, DELETE) after transport
// errors and 429/502/503/504 answers. Non-idempotent requests are retried only after a 429
// (the broker refused them unprocessed) or when the connection could not be made at all.
// A Retry-After header longer than the backoff is honoured, up to MaxRetryAfter.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, ≥ 1
	MinBackoff  time.Duration // first wait; doubles per attempt, with jitter
	MaxBackoff  time.Duration
	// MaxRetryAfter caps the wait a Retry-After header asks for (0 = 30 s).
	MaxRetryAfter time.Duration
}

// maxRetryAfter is the cap on an honoured Retry-After when the policy sets none.
const maxRetryAfter = 30 * time.Second

// DefaultRetryPolicy makes up to 4 attempts over roughly 3 seconds.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second}
}

// Option configures a Client.
type Option func(*Client) error

// WithPAK authenticates every request with a prefixed API key.
func WithPAK(pak string) Option {
	return func(c *Client) error { c.pak = strings.TrimSpace(pak); return nil }
}

// WithHTTPClient uses hc for requests (its Transport and Timeout are kept; TLS options then
// apply only if hc.Transport is nil or an *http.Transport).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("client: nil http.Client")
		}
		c.http = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header, e.g. "brokkrctl/1.2.0".
func WithUserAgent(ua string) Option {
	return func(c *Client) error { c.userAgent = ua; return nil }
}

// WithRetry replaces the retry policy; MaxAttempts 1 disables retries.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 1 {
			return errors.New("client: RetryPolicy.MaxAttempts must be at least 1")
		}
		c.retry = p
		return nil
	}
}

// WithTimeout bounds each attempt of each request (default 30 s; 0 = none).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error { c.timeout = d; return nil }
}

// TLSOptions configure server certificate verification.
type TLSOptions struct {
	CAFile             string // PEM bundle to trust in addition to the system roots
	InsecureSkipVerify bool   // do not verify the server certificate (testing only)
	ServerName         string // expected name in the server certificate, when it differs from the host
}

// WithTLS configures certificate verification.
func WithTLS(o TLSOptions) Option {
	return func(c *Client) error {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify, ServerName: o.ServerName} //nolint:gosec // opt-in
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return fmt.Errorf("client: read CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("client: no certificates in %s", o.CAFile)
			}
			cfg.RootCAs = pool
		}
		c.tls = cfg
		return nil
	}
}

// New returns a client for the broker at baseURL (scheme, host and port; a trailing
// /api/v1 is accepted and ignored).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("client: broker URL %q must look like http://host:port", baseURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: broker URL scheme must be http or https, not %q", u.Scheme)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v1")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, userAgent: DefaultUserAgent, retry: DefaultRetryPolicy(), timeout: 30 * time.Second}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		c.http = &http.Client{Transport: tr}
	}
	if c.tls != nil {
		switch tr := c.http.Transport.(type) {
		case nil:
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = c.tls
			c.http.Transport = t
		case *http.Transport:
			tr.TLSClientConfig = c.tls
		}
	}
	return c, nil
}

// BaseURL returns the broker's root URL.
func (c *Client) BaseURL() string { return c.base.String() }

// PAK returns the key the client authenticates with.
func (c *Client) PAK() string { return c.pak }

// request describes one API call.
type request struct {
	method string
	path   string     // under /api/v1, e.g. "/agents"
	query  url.Values // may be nil
	body   any        // JSON-encoded unless rawBody is set
	raw    []byte     // raw body (with contentType)
	ctype  string
	accept string
	// header holds further request headers (e.g. If-None-Match); may be nil.
	header http.Header
	// want lists the accepted statuses; empty = any 2xx. A listed 304 is accepted too.
	want []int
}

// answer is a response whose body has been read and closed.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do performs a request with retries and decodes a JSON answer into out (when not nil).
// It returns the status code of the final answer.
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	a, err := c.send(ctx, r)
	if err != nil {
		return 0, err
	}
	if out != nil && len(a.body) > 0 {
		if raw, ok := out.(*[]byte); ok {
			*raw = a.body
			return a.status, nil
		}
		if err := json.Unmarshal(a.body, out); err != nil {
			return a.status, fmt.Errorf("decode %s %s response: %w", r.method, r.path, err)
		}
	}
	return a.status, nil
}

// send performs a request with retries and returns the successful answer.
func (c *Client) send(ctx context.Context, r request) (answer, error) {
	var payload []byte
	ctype := r.ctype
	switch {
	case r.raw != nil:
		payload = r.raw
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return answer{}, fmt.Errorf("encode %s %s body: %w", r.method, r.path, err)
		}
		payload = b
		if ctype == "" {
			ctype = "application/json"
		}
	}
	u := *c.base
	u.Path = u.Path + "/api/v1" + r.path
	u.RawPath = ""
	if p, err := url.PathUnescape(u.Path); err == nil && p != u.Path {
		u.RawPath = u.Path
		u.Path = p
	}
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	idempotent := r.method == http.MethodGet || r.method == http.MethodHead || r.method == http.MethodPut ||
		r.method == http.MethodDelete || r.method == http.MethodOptions
	var lastErr error
	for attempt := 1; ; attempt++ {
		a, err := c.attempt(ctx, r.method, u.String(), payload, ctype, r.accept, r.header)
		retryable := false
		var retryAfter time.Duration
		switch {
		case err != nil:
			lastErr = fmt.Errorf("%s %s: %w", r.method, r.path, err)
			retryable = ctx.Err() == nil && (idempotent || connectFailed(err))
		case a.status >= 200 && a.status < 300 && (len(r.want) == 0 || contains(r.want, a.status)),
			a.status == http.StatusNotModified && contains(r.want, a.status):
			return a, nil
		default:
			lastErr = errorFrom(r.method, r.path, a.status, a.header, a.body)
			switch a.status {
			case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				retryable = idempotent || a.status == http.StatusTooManyRequests
				retryAfter = parseRetryAfter(a.header.Get("Retry-After"))
			}
		}
		if !retryable || attempt >= c.retry.MaxAttempts {
			return answer{}, lastErr
		}
		wait := c.backoff(attempt)
		if retryAfter > wait {
			limit := c.retry.MaxRetryAfter
			if limit <= 0 {
				limit = maxRetryAfter
			}
			wait = max(wait, min(retryAfter, limit))
		}
		select {
		case <-ctx.Done():
			return answer{}, lastErr
		case <-time.After(wait):
		}
	}
}

func (c *Client) attempt(ctx context.Context, method, u string, payload []byte, ctype, accept string, header http.Header) (answer, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	if c.pak != "" {
		req.Header.Set("Authorization", "Bearer "+c.pak)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.MinBackoff << (attempt - 1)
	if d <= 0 || d > c.retry.MaxBackoff {
		d = c.retry.MaxBackoff
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// connectFailed reports whether err happened before the request reached the server.
func connectFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date (0 when absent,
// malformed or past).
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// path joins escaped path segments: path("agents", id, "labels") = "/agents/<id>/labels".
func path(segments ...any) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(fmt.Sprint(s)))
	}
	return b.String()
}
