package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// stackLiveSocket is GET /api/v1/stacks/{id}/live: a read-only tail of the telemetry agents
// report for a stack (k8s_event, pod_log_line, log_gap). The admin may watch any stack, a
// generator its own live stacks.
func (s *Server) stackLiveSocket(c echo.Context) error {
	epoch := s.live.rev.epoch.Load()
	id, hash, ok := s.socketIdentity(c, true)
	if !ok {
		return nil
	}
	stackID, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if !id.Admin {
		if !id.IsGenerator() {
			return c.NoContent(http.StatusForbidden)
		}
		st, err := db.GetStack(c.Request().Context(), s.db, stackID)
		if errors.Is(err, db.ErrNotFound) || err == nil && st.GeneratorID != id.GeneratorID {
			return c.NoContent(http.StatusForbidden)
		}
		if err != nil {
			s.log.ErrorContext(c.Request().Context(), "authorize stack live tail", slog.Any("err", err))
			return c.NoContent(http.StatusInternalServerError)
		}
	}
	ws, err := websocket.Accept(c.Response(), c.Request(), acceptOptions(client.WSSubprotocol))
	if err != nil {
		return nil
	}
	sub := newStackSub(stackID, s.live.metrics)
	sub.grant = socketGrant{hash: hash, id: id}
	s.live.addStackSub(sub)
	defer s.live.removeStackSub(sub)
	s.live.recheckIfRevoked(epoch, recheck{Hashes: []string{hash}, Stacks: []uuid.UUID{stackID}})
	serveSubscriber(ws, sub.ch, &sub.end)
	return nil
}

// fleetLiveSocket is GET /api/v1/fleet/live: fleet_update frames for the admin.
func (s *Server) fleetLiveSocket(c echo.Context) error {
	epoch := s.live.rev.epoch.Load()
	id, hash, ok := s.socketIdentity(c, true)
	if !ok {
		return nil
	}
	if !id.Admin {
		return c.NoContent(http.StatusForbidden)
	}
	ws, err := websocket.Accept(c.Response(), c.Request(), acceptOptions(client.WSSubprotocol))
	if err != nil {
		return nil
	}
	sub := &fleetSub{ch: make(chan []byte, subscriberBuffer), end: newSubEnd(), grant: socketGrant{hash: hash, id: id}}
	s.live.addFleetSub(sub)
	defer s.live.removeFleetSub(sub)
	s.live.recheckIfRevoked(epoch, recheck{Hashes: []string{hash}})
	serveSubscriber(ws, sub.ch, &sub.end)
	return nil
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
	metrics *liveMetrics
	ch      chan []byte
	end     subEnd
	grant   socketGrant // what the tail was opened with

	mu      sync.Mutex
	dropped uint64    // frames lost since the last gap frame
	since   time.Time // when the first of them was lost
}

func newStackSub(stackID uuid.UUID, m *liveMetrics) *stackSub {
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
	grant socketGrant // what the subscription was opened with
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

func (h *liveHub) addStackSub(sub *stackSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.stacks[sub.stackID]
	if subs == nil {
		subs = map[*stackSub]struct{}{}
		h.stacks[sub.stackID] = subs
	}
	subs[sub] = struct{}{}
}

func (h *liveHub) removeStackSub(sub *stackSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.stacks[sub.stackID], sub)
	if len(h.stacks[sub.stackID]) == 0 {
		delete(h.stacks, sub.stackID)
	}
}

func (h *liveHub) addFleetSub(sub *fleetSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fleet[sub] = struct{}{}
}

func (h *liveHub) removeFleetSub(sub *fleetSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.fleet, sub)
}

// closeSubscribers ends every consumer connection of this replica.
func (h *liveHub) closeSubscribers() {
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
func (h *liveHub) broadcastFleet(data []byte) {
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
