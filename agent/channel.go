package agent

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/brokkr/brokkr/agent/internal/backoff"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
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

// wsReconnects is the schedule of the channel's reconnects: 1 s doubling to 60 s.
var wsReconnects = backoff.Exponential(time.Second, time.Minute)

// websocket keeps the agent's WebSocket channel open while ctx lasts. The channel carries the
// broker's pushes (a changed target or stack starts a reconcile at once, a new work order a
// work-order pass), so changes arrive in well under a polling interval, and the agent's
// telemetry (Kubernetes events of its stacks, the output of pods that opted in) the other
// way. Everything else the agent reports goes over REST, which works with or without the
// channel. Reconnects back off from 1 s to 60 s with ±20 % jitter, or wait as long as a
// refusal's Retry-After asks (60 s at most); a channel that was open is dialled again at once
// when it is lost.
func (a *Agent) websocket(ctx context.Context) {
	c, err := a.wsClient()
	if err != nil {
		a.log.Error("websocket channel disabled", logx.Err(err))
		return
	}
	retries, rejected := wsReconnects, 0
	var next time.Duration
	_ = wait.DelayFunc(func() time.Duration { return next }).Until(ctx, true, true, func(ctx context.Context) (bool, error) {
		ch, err := c.AgentChannel(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			if client.IsUnauthorized(err) || client.IsForbidden(err) {
				rejected++
				if rejected >= wsAuthRejections {
					a.log.Error("the broker keeps refusing the websocket channel; polling only until restart", logx.Err(err))
					return true, nil
				}
			} else {
				rejected = 0
			}
			next = backoff.Spread(retries.Step(), 0.2)
			if ce, ok := client.AsError(err); ok && ce.RetryAfter > next {
				next = min(ce.RetryAfter, time.Minute) // an overloaded broker says when to come back
			}
			a.log.Debug("websocket dial failed", logx.Err(err), "retry_in", next)
			return false, nil
		}
		retries, rejected, next = wsReconnects, 0, 0
		a.serveChannel(ctx, ch)
		return ctx.Err() != nil, nil
	})
}

// serveChannel turns the pushes of an open channel into reconcile and work-order passes until
// the channel is lost or ctx ends, then closes it. Meanwhile it sends the telemetry frames of
// the uplink, those queued while the channel was down first.
func (a *Agent) serveChannel(ctx context.Context, ch *client.AgentChannel) {
	a.wsUp.Store(true)
	drainCtx, stopDrain := context.WithCancel(ctx)
	var drain sync.WaitGroup
	drain.Go(func() {
		if err := a.uplink.Drain(drainCtx, ch.Send); err != nil && drainCtx.Err() == nil {
			a.log.Info("websocket channel lost while sending telemetry", logx.Err(err))
			_ = ch.Close() // ends Next below; the channel is dialled again
		}
	})
	defer func() {
		stopDrain()
		drain.Wait()
		a.wsUp.Store(false)
		_ = ch.Close()
	}()
	a.log.Info("websocket channel connected")
	trigger(a.reconcileNow) // catch up on pushes missed while disconnected
	for {
		m, err := ch.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Info("websocket channel lost", logx.Err(err))
			}
			return
		}
		switch m.Type {
		case client.WSStackChanged, client.WSTargetChanged:
			trigger(a.reconcileNow)
		case client.WSWorkOrder:
			trigger(a.workNow)
		}
	}
}
