package live

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// ServeStackTail upgrades an authorized request to a read-only live tail of the telemetry
// agents report for a stack (k8s_event, pod_log_line, log_gap) and serves it until it ends.
// epoch is Epoch read before the request's key was resolved.
func (h *Hub) ServeStackTail(w http.ResponseWriter, r *http.Request, stackID uuid.UUID, g Grant, epoch uint64) {
	ws, err := websocket.Accept(w, r, acceptOptions(client.WSSubprotocol))
	if err != nil {
		return
	}
	sub := newStackSub(stackID, h.metrics)
	sub.grant = g
	h.addStackSub(sub)
	defer h.removeStackSub(sub)
	h.recheckIfRevoked(epoch, Sockets{Hashes: []string{g.PAKHash}, Stacks: []uuid.UUID{stackID}})
	serveSubscriber(ws, sub.ch, &sub.end)
}

// ServeFleet upgrades an authorized request to a fleet subscription (fleet_update frames)
// and serves it until it ends. epoch is Epoch read before the request's key was resolved.
func (h *Hub) ServeFleet(w http.ResponseWriter, r *http.Request, g Grant, epoch uint64) {
	ws, err := websocket.Accept(w, r, acceptOptions(client.WSSubprotocol))
	if err != nil {
		return
	}
	sub := &fleetSub{ch: make(chan []byte, subscriberBuffer), end: newSubEnd(), grant: g}
	h.addFleetSub(sub)
	defer h.removeFleetSub(sub)
	h.recheckIfRevoked(epoch, Sockets{Hashes: []string{g.PAKHash}})
	serveSubscriber(ws, sub.ch, &sub.end)
}

// subEnd ends a consumer connection once, with a close status: shutdown or revocation.
type subEnd struct {
	once   sync.Once
	done   chan struct{}
	code   websocket.StatusCode
	reason string
}

func newSubEnd() subEnd { return subEnd{done: make(chan struct{})} }

// end asks the connection to close with this status; later calls do nothing.
func (e *subEnd) end(code websocket.StatusCode, reason string) {
	e.once.Do(func() {
		e.code, e.reason = code, reason
		close(e.done)
	})
}

// serveSubscriber writes queued frames to a consumer until the consumer leaves, a write
// fails, or end is asked (shutdown, revocation). Frames the consumer sends are read and
// ignored.
func serveSubscriber(ws *websocket.Conn, ch <-chan []byte, end *subEnd) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer cancel()
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			_ = ws.CloseNow()
			return
		case <-end.done:
			_ = ws.Close(end.code, end.reason)
			return
		case b := <-ch:
			wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
			err := ws.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				_ = ws.CloseNow()
				return
			}
		}
	}
}

// stackSub is one live-tail subscriber of a stack.
type stackSub struct {
	stackID uuid.UUID
	metrics *metrics
	ch      chan []byte
	end     subEnd
	grant   Grant // what the tail was opened with

	mu      sync.Mutex
	dropped uint64    // frames lost since the last gap frame
	since   time.Time // when the first of them was lost
}

func newStackSub(stackID uuid.UUID, m *metrics) *stackSub {
	return &stackSub{stackID: stackID, metrics: m, ch: make(chan []byte, subscriberBuffer), end: newSubEnd()}
}

// offer queues a frame without blocking. A subscriber that falls behind loses frames; the
// next frame that fits is preceded by a synthetic log_gap (nil agent id, reason
// buffer_full) counting them, so the consumer sees the gap where it happened.
func (s *stackSub) offer(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped > 0 {
		gap, err := encodeFrame(client.WSLogGap, client.LogGap{
			AgentID: uuid.Nil, StackID: s.stackID, SinceTS: s.since,
			DroppedCount: s.dropped, Reason: client.GapBufferFull,
		})
		if err == nil {
			select {
			case s.ch <- gap.data:
				s.dropped = 0
			default:
			}
		}
	}
	if s.dropped == 0 {
		select {
		case s.ch <- data:
			return
		default:
			s.since = time.Now().UTC()
		}
	}
	s.dropped++
	s.metrics.dropped.WithLabelValues("subscriber_lag").Inc()
}

func (s *stackSub) close(code websocket.StatusCode, reason string) { s.end.end(code, reason) }

// fleetSub is one fleet live subscriber; a lagging one silently misses frames (the next
// record of an agent supersedes the lost one).
type fleetSub struct {
	ch    chan []byte
	end   subEnd
	grant Grant // what the subscription was opened with
}

func (f *fleetSub) offer(data []byte) bool {
	select {
	case f.ch <- data:
		return true
	default:
		return false
	}
}

func (f *fleetSub) close(code websocket.StatusCode, reason string) { f.end.end(code, reason) }

func (h *Hub) addStackSub(sub *stackSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.stacks[sub.stackID]
	if subs == nil {
		subs = map[*stackSub]struct{}{}
		h.stacks[sub.stackID] = subs
	}
	subs[sub] = struct{}{}
}

func (h *Hub) removeStackSub(sub *stackSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.stacks[sub.stackID], sub)
	if len(h.stacks[sub.stackID]) == 0 {
		delete(h.stacks, sub.stackID)
	}
}

func (h *Hub) addFleetSub(sub *fleetSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fleet[sub] = struct{}{}
}

func (h *Hub) removeFleetSub(sub *fleetSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.fleet, sub)
}

// closeSubscribers ends every consumer connection of this replica.
func (h *Hub) closeSubscribers() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.stacks {
		for sub := range subs {
			sub.close(statusGoingAway, "broker shutting down")
		}
	}
	for sub := range h.fleet {
		sub.close(statusGoingAway, "broker shutting down")
	}
}

// broadcastFleet offers a frame to every fleet subscriber of this replica.
func (h *Hub) broadcastFleet(data []byte) {
	h.mu.Lock()
	subs := make([]*fleetSub, 0, len(h.fleet))
	for sub := range h.fleet {
		subs = append(subs, sub)
	}
	h.mu.Unlock()
	for _, sub := range subs {
		if !sub.offer(data) {
			h.metrics.dropped.WithLabelValues("subscriber_lag").Inc()
		}
	}
}
