package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/brokkr/brokkr/client"
)

// wsAuthRejections is how many refused upgrades in a row (401/403) make the agent stop
// dialling until it restarts: its key is not going to work.
const wsAuthRejections = 5

// wsClient returns the client that dials the WebSocket channel: the agent's own, or one for
// agent.ws_url.
func (a *Agent) wsClient() (*client.Client, error) {
	if a.cfg.WSURL == "" {
		return a.client, nil
	}
	u, err := url.Parse(a.cfg.WSURL)
	if err != nil {
		return nil, fmt.Errorf("agent.ws_url: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/internal/ws/agent")
	copts := []client.Option{client.WithPAK(a.cfg.PAK)}
	if a.opts.HTTPClient != nil {
		copts = append(copts, client.WithHTTPClient(a.opts.HTTPClient))
	}
	return client.New(u.String(), copts...)
}

// websocket keeps the agent's WebSocket channel open while ctx lasts. The channel carries the
// broker's pushes — a changed target or stack starts a reconcile at once, a new work order a
// work-order pass — so changes arrive in well under a polling interval. Everything the agent
// sends goes over REST, which works with or without the channel. Reconnects back off from
// 1 s to 60 s with ±20 % jitter, or wait as long as a refusal's Retry-After asks (60 s at most).
func (a *Agent) websocket(ctx context.Context) {
	c, err := a.wsClient()
	if err != nil {
		a.log.Error("websocket channel disabled", "err", err)
		return
	}
	backoff, rejected := time.Second, 0
	for {
		ch, err := c.AgentChannel(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if client.IsUnauthorized(err) || client.IsForbidden(err) {
				rejected++
				if rejected >= wsAuthRejections {
					a.log.Error("the broker keeps refusing the websocket channel; polling only until restart", "err", err)
					return
				}
			} else {
				rejected = 0
			}
			wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
			if ce, ok := client.AsError(err); ok && ce.RetryAfter > wait {
				wait = min(ce.RetryAfter, time.Minute) // an overloaded broker says when to come back
			}
			a.log.Debug("websocket dial failed", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff, rejected = time.Second, 0
		a.wsUp.Store(true)
		a.log.Info("websocket channel connected")
		trigger(a.reconcileNow) // catch up on pushes missed while disconnected
		for {
			m, err := ch.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					a.log.Info("websocket channel lost", "err", err)
				}
				break
			}
			switch m.Type {
			case client.WSStackChanged, client.WSTargetChanged:
				trigger(a.reconcileNow)
			case client.WSWorkOrder:
				trigger(a.workNow)
			}
		}
		a.wsUp.Store(false)
		_ = ch.Close()
		if ctx.Err() != nil {
			return
		}
	}
}
