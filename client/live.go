package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// maxFrameSize bounds one received WebSocket frame (work orders carry whole manifests).
const maxFrameSize = 16 << 20

// NewWSMessage wraps body in an envelope of the given type.
func NewWSMessage(typ string, body any) (WSMessage, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return WSMessage{}, fmt.Errorf("encode %s frame body: %w", typ, err)
	}
	return WSMessage{Type: typ, Body: b}, nil
}

// Decode unmarshals the envelope's body into v, e.g. a *FleetAgentRecord for a
// fleet_update frame.
func (m WSMessage) Decode(v any) error {
	if err := json.Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("decode %s frame body: %w", m.Type, err)
	}
	return nil
}

// Live is the handle for the read-only live channels (WebSocket).
type Live struct{ c *Client }

// Live returns the live channel handle.
func (c *Client) Live() *Live { return &Live{c: c} }

// Stack subscribes to the live telemetry of a stack: k8s_event, pod_log_line and log_gap
// frames (admin, or the generator owning the stack).
func (l *Live) Stack(ctx context.Context, stackID uuid.UUID) (*Subscription, error) {
	ws, err := l.c.dial(ctx, "/api/v1"+path("stacks", stackID, "live"), WSSubprotocol)
	if err != nil {
		return nil, err
	}
	return &Subscription{ws: ws}, nil
}

// Fleet subscribes to fleet_update frames, pushed when an agent connects or disconnects,
// sends a heartbeat, or its measured signals change (admin, including the read-only key).
func (l *Live) Fleet(ctx context.Context) (*Subscription, error) {
	ws, err := l.c.dial(ctx, "/api/v1/fleet/live", WSSubprotocol)
	if err != nil {
		return nil, err
	}
	return &Subscription{ws: ws}, nil
}

// Subscription is an open live channel. Next and Close may be called from different
// goroutines; Next must not be called concurrently with itself.
type Subscription struct{ ws *websocket.Conn }

// Next waits for the next frame. A frame that is not an envelope is reported as an error
// that leaves the subscription usable; a channel the broker closed normally is reported as
// an error wrapping io.EOF. Cancelling ctx closes the subscription, as the WebSocket library
// cannot abandon a read half-way.
func (s *Subscription) Next(ctx context.Context) (WSMessage, error) {
	return next(ctx, s.ws)
}

// Close ends the subscription.
func (s *Subscription) Close() error { return closeSocket(s.ws) }

// AgentChannel is an agent's WebSocket connection to the broker: it receives work_order,
// target_changed and stack_changed frames and sends heartbeat, agent_event, agent_health
// and telemetry frames. Send may be called concurrently; Next must not be.
type AgentChannel struct{ ws *websocket.Conn }

// AgentChannel opens the agent channel (agent PAK only). A newer connection of the same
// agent replaces this one.
func (c *Client) AgentChannel(ctx context.Context) (*AgentChannel, error) {
	ws, err := c.dial(ctx, "/internal/ws/agent")
	if err != nil {
		return nil, err
	}
	return &AgentChannel{ws: ws}, nil
}

// Send writes one frame. The broker drops frames whose body names another agent.
func (a *AgentChannel) Send(ctx context.Context, m WSMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s frame: %w", m.Type, err)
	}
	if err := a.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send %s frame: %w", m.Type, err)
	}
	return nil
}

// Next waits for the next frame from the broker, with the error semantics of
// Subscription.Next.
func (a *AgentChannel) Next(ctx context.Context) (WSMessage, error) {
	return next(ctx, a.ws)
}

// Close closes the connection.
func (a *AgentChannel) Close() error { return closeSocket(a.ws) }

// dial opens a WebSocket to p (a path under the broker root), authenticating with the
// Authorization header and offering the given subprotocols. Refusals become *Error.
func (c *Client) dial(ctx context.Context, p string, subprotocols ...string) (*websocket.Conn, error) {
	u := *c.base
	u.Path = u.Path + p
	u.RawPath = ""
	u.RawQuery = ""
	header := http.Header{"User-Agent": {c.userAgent}}
	if c.pak != "" {
		header.Set("Authorization", "Bearer "+c.pak)
	}
	ws, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:   c.http,
		HTTPHeader:   header,
		Subprotocols: subprotocols,
	})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if res.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(res.Body, 4096))
				_ = res.Body.Close()
			}
			return nil, errorFrom(http.MethodGet, p, res.StatusCode, res.Header, body)
		}
		return nil, fmt.Errorf("GET %s: websocket: %w", p, err)
	}
	ws.SetReadLimit(maxFrameSize)
	return ws, nil
}

func next(ctx context.Context, ws *websocket.Conn) (WSMessage, error) {
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway {
				return WSMessage{}, fmt.Errorf("websocket closed (%d): %w", s, io.EOF)
			}
			return WSMessage{}, fmt.Errorf("websocket read: %w", err)
		}
		if typ != websocket.MessageText {
			continue // binary frames carry nothing in this protocol
		}
		var m WSMessage
		if err := json.Unmarshal(b, &m); err != nil || m.Type == "" {
			if err == nil {
				err = errors.New("missing type")
			}
			return WSMessage{}, fmt.Errorf("websocket frame is not an envelope: %w", err)
		}
		return m, nil
	}
}

func closeSocket(ws *websocket.Conn) error {
	err := ws.Close(websocket.StatusNormalClosure, "")
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close websocket: %w", err)
	}
	return nil
}
