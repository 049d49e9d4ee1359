// Package webhooks makes the webhook deliveries the broker hands to the agent: deliveries
// whose subscription targets agents by label, so that endpoints only reachable from inside
// a cluster can be notified.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
	"github.com/brokkr/brokkr/internal/pgtext"
)

const (
	// DefaultTimeout applies when a delivery carries no positive timeout.
	DefaultTimeout = 30 * time.Second
	// Concurrency is how many deliveries RunOnce makes at once.
	Concurrency = 4
	// errorBodyLimit is how many characters of a failed response's body the reported error
	// keeps.
	errorBodyLimit = 500
	// responseReadLimit caps how much of a response body is read.
	responseReadLimit = 64 << 10
)

// Delivery request headers besides Content-Type and Authorization.
const (
	HeaderEventType  = "X-Brokkr-Event-Type"
	HeaderDeliveryID = "X-Brokkr-Delivery-Id"
)

// defaultClient is used when a Deliverer has no client of its own. Each delivery carries
// its own deadline, so the client has no timeout.
var defaultClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}

// Deliverer posts webhook deliveries and reports their outcome to the broker.
type Deliverer struct {
	// HTTP sends the deliveries; nil uses a client of the package's own.
	HTTP *http.Client
	// Log receives one record per delivery; nil discards them.
	Log *slog.Logger
	// Metrics, when not nil, counts delivery attempts.
	Metrics interface{ WebhookDelivered(success bool) }
}

func (d *Deliverer) httpClient() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return defaultClient
}

func (d *Deliverer) log() *slog.Logger { return logx.OrDiscard(d.Log) }

// Deliver posts one delivery and returns the result to report: success with the status
// code for a 2xx answer; otherwise an error text ("HTTP <code>: <body start>", "Request
// timed out", "Connection failed" or "Request error: ..."). The duration is always set.
// Failures are results, never errors.
func (d *Deliverer) Deliver(ctx context.Context, p client.PendingWebhookDelivery) client.DeliveryResultRequest {
	start := time.Now()
	res := d.post(ctx, p)
	took := time.Since(start)
	ms := took.Milliseconds()
	res.DurationMs = &ms

	log := d.log().With(logx.DeliveryID(p.ID), slog.String("event_type", p.EventType), slog.Duration("duration", took))
	if res.StatusCode != nil {
		log = log.With(slog.Int("status_code", int(*res.StatusCode)))
	}
	if res.Success {
		log.Debug("webhook delivered")
	} else {
		log.Warn("webhook delivery failed", slog.String(logx.KeyError, *res.Error))
	}
	if d.Metrics != nil {
		d.Metrics.WebhookDelivered(res.Success)
	}
	return res
}

func (d *Deliverer) post(ctx context.Context, p client.PendingWebhookDelivery) client.DeliveryResultRequest {
	timeout := DefaultTimeout
	if p.TimeoutSeconds > 0 {
		timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(p.Payload))
	if err != nil {
		return failure(nil, "Request error: "+describe(err, p.URL))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventType, p.EventType)
	req.Header.Set(HeaderDeliveryID, p.ID.String())
	if p.AuthHeader != nil && *p.AuthHeader != "" {
		req.Header.Set("Authorization", *p.AuthHeader)
	}
	resp, err := d.httpClient().Do(req)
	if err != nil {
		return failure(nil, transportError(err, p.URL))
	}
	defer resp.Body.Close()
	code := int32(resp.StatusCode)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseReadLimit)) // lets the connection be reused
		return client.DeliveryResultRequest{Success: true, StatusCode: &code}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, responseReadLimit))
	return failure(&code, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, pgtext.Clip(string(body), errorBodyLimit)))
}

func failure(code *int32, msg string) client.DeliveryResultRequest {
	return client.DeliveryResultRequest{Success: false, StatusCode: code, Error: &msg}
}

// transportError classifies a failed request: a timeout, a failure to connect, or another
// request error. The text never contains the target URL, which may carry a secret.
func transportError(err error, target string) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "Request timed out"
	case isConnectError(err):
		return "Connection failed"
	}
	return "Request error: " + describe(err, target)
}

// isConnectError reports whether err happened while establishing the connection: name
// resolution, dialing, or the TLS handshake's transport.
func isConnectError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// describe renders err without the URL: the *url.Error wrapper (which quotes the URL) is
// dropped and any remaining mention of the target host is masked.
func describe(err error, target string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if u, perr := url.Parse(target); perr == nil {
		if u.User != nil {
			msg = strings.ReplaceAll(msg, u.User.String(), "[user]")
		}
		if h := u.Hostname(); h != "" {
			msg = strings.ReplaceAll(msg, h, "[host]")
		}
	}
	return msg
}

// RunOnce claims the deliveries pending for the agent, makes them (Concurrency at a time)
// and reports each outcome. It returns how many deliveries were attempted and the first
// error met fetching the deliveries or reporting a result. A delivery cut short because ctx
// ended is not reported: its claim lapses and the broker hands it out again.
func (d *Deliverer) RunOnce(ctx context.Context, c *client.Client, agentID uuid.UUID) (int, error) {
	pending, err := c.Webhooks().Pending(ctx, agentID)
	if err != nil {
		return 0, fmt.Errorf("fetch pending webhook deliveries: %w", err)
	}
	var (
		mu       sync.Mutex
		first    error
		attempts int
		g        errgroup.Group
	)
	g.SetLimit(Concurrency)
	for _, p := range pending {
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			res := d.Deliver(ctx, p)
			if ctx.Err() != nil {
				return nil
			}
			mu.Lock()
			attempts++
			mu.Unlock()
			if _, err := c.Webhooks().ReportResult(ctx, p.ID, res); err != nil {
				d.log().Error("report webhook delivery result", logx.DeliveryID(p.ID), logx.Err(err))
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("report result of webhook delivery %s: %w", p.ID, err)
				}
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return attempts, first
}
