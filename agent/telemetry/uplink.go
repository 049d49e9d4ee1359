// Package telemetry streams what happens to the agent's stacks in the cluster to the broker
// over the agent's WebSocket channel: Kubernetes events of the stacks' objects (k8s_event)
// and the output of pods that opted in (pod_log_line, log_gap). Frames go through one
// bounded outbound queue, the Uplink; telemetry never blocks the agent and is dropped, and
// counted, when the queue is full.
package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/brokkr/brokkr/client"
)

// QueueSize is the capacity of the agent's outbound telemetry queue, as the reference agent's.
const QueueSize = 256

// sendTimeout bounds the write of one frame; a broker that takes no frame for this long
// loses the connection, and the agent dials again.
const sendTimeout = 10 * time.Second

// Metrics counts the frames of an Uplink by frame type. *httpserver.Metrics implements it.
type Metrics interface {
	TelemetrySent(frameType string)
	TelemetryDropped(frameType string)
}

// Uplink is the bounded queue of telemetry frames for the agent's WebSocket channel.
// Producers call Offer, which never blocks; the channel drains the queue with Drain while it
// is open. Frames offered while the channel is down wait in the queue (up to its capacity)
// and are sent after the next connect. A nil *Uplink takes nothing and sends nothing.
type Uplink struct {
	queue   chan client.WSMessage
	metrics Metrics

	mu sync.Mutex
	// held is a frame whose send failed: the next Drain sends it first. One more failure
	// drops it, so a frame the connection cannot carry does not block the queue.
	held *client.WSMessage
}

// NewUplink returns an uplink holding up to size frames (QueueSize when size ≤ 0). metrics
// may be nil.
func NewUplink(size int, metrics Metrics) *Uplink {
	if size <= 0 {
		size = QueueSize
	}
	return &Uplink{queue: make(chan client.WSMessage, size), metrics: metrics}
}

// Offer queues m without blocking and reports whether it was queued. A full queue drops the
// frame and counts it in brokkr_agent_telemetry_frames_dropped_total.
func (u *Uplink) Offer(m client.WSMessage) bool {
	if u == nil {
		return false
	}
	select {
	case u.queue <- m:
		return true
	default:
		u.dropped(m.Type)
		return false
	}
}

// Len is the number of frames waiting.
func (u *Uplink) Len() int {
	if u == nil {
		return 0
	}
	return len(u.queue)
}

// Drain sends queued frames with send, oldest first, until ctx ends (nil is returned) or a
// send fails: its error is returned, and the frame is the first the next Drain sends (a
// frame failing a second time is dropped and counted). Only one Drain may run at a time.
// Each send gets its own deadline of 10 s.
func (u *Uplink) Drain(ctx context.Context, send func(context.Context, client.WSMessage) error) error {
	if u == nil {
		<-ctx.Done()
		return nil
	}
	for {
		m, ok := u.next(ctx)
		if !ok {
			return nil
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err := send(sctx, m)
		cancel()
		if err != nil {
			u.hold(m)
			return err
		}
		u.release()
		if u.metrics != nil {
			u.metrics.TelemetrySent(m.Type)
		}
	}
}

// next returns the held frame, else waits for a queued one until ctx ends.
func (u *Uplink) next(ctx context.Context) (client.WSMessage, bool) {
	if ctx.Err() != nil {
		return client.WSMessage{}, false
	}
	u.mu.Lock()
	held := u.held
	u.mu.Unlock()
	if held != nil {
		return *held, true
	}
	select {
	case <-ctx.Done():
		return client.WSMessage{}, false
	case m := <-u.queue:
		return m, true
	}
}

// hold keeps m for the next Drain, or drops it when it was the held frame already.
func (u *Uplink) hold(m client.WSMessage) {
	u.mu.Lock()
	retried := u.held != nil
	if retried {
		u.held = nil
	} else {
		u.held = &m
	}
	u.mu.Unlock()
	if retried {
		u.dropped(m.Type)
	}
}

func (u *Uplink) release() {
	u.mu.Lock()
	u.held = nil
	u.mu.Unlock()
}

func (u *Uplink) dropped(typ string) {
	if u.metrics != nil {
		u.metrics.TelemetryDropped(typ)
	}
}
