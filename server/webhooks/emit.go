package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/events"
)

// Filters are a subscription's filters as a create or update body gives them and as
// webhook_subscriptions.filters stores them.
type Filters struct {
	AgentID *uuid.UUID `json:"agent_id"`
	StackID *uuid.UUID `json:"stack_id"`
}

// Stored renders filters the way they are kept in webhook_subscriptions.filters (nil: none).
func (f *Filters) Stored() (*string, error) {
	if f == nil {
		return nil, nil
	}
	b, err := json.Marshal(client.WebhookFilters{AgentID: f.AgentID, StackID: f.StackID})
	if err != nil {
		return nil, fmt.Errorf("encode filters: %w", err)
	}
	s := string(b)
	return &s, nil
}

// encodeEvent renders an event envelope as the JSON posted to endpoints (HTML characters are
// left as they are).
func encodeEvent(ev events.Event) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return "", fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// Emit is the transaction hook that queues one delivery per enabled subscription matching
// the event, inside the transaction of the write that caused it.
func (w *Service) Emit(ctx context.Context, q db.Queryer, ev events.Event) error {
	if strings.HasPrefix(ev.Type, events.InternalPrefix) {
		return nil
	}
	routes, err := db.EnabledWebhookRoutes(ctx, q)
	if err != nil {
		return fmt.Errorf("load webhook subscriptions: %w", err)
	}
	if len(routes) == 0 {
		return nil
	}
	payload, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	// Filters compare against the data as it is delivered (ids as strings, nulls as null).
	var env struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		return fmt.Errorf("decode event %s: %w", ev.Type, err)
	}
	var ids []uuid.UUID
	for _, r := range routes {
		if subscribed(r.EventTypes, ev.Type) && filtersPass(r.Filters, env.Data) {
			ids = append(ids, r.ID)
		}
	}
	if _, err := db.InsertWebhookDeliveries(ctx, q, ids, db.WebhookEvent{ID: ev.ID, Type: ev.Type, Payload: payload}); err != nil {
		return fmt.Errorf("queue webhook deliveries for %s: %w", ev.Type, err)
	}
	return nil
}

// subscribed reports whether any pattern matches the event type: "*" matches everything,
// "p.*" every type starting with "p.", anything else only itself.
func subscribed(patterns []string, typ string) bool {
	for _, p := range patterns {
		switch {
		case p == "*":
			return true
		case strings.HasSuffix(p, ".*"):
			if strings.HasPrefix(typ, p[:len(p)-1]) {
				return true
			}
		case p == typ:
			return true
		}
	}
	return false
}

// filtersPass applies a subscription's stored filters to event data. No filters (NULL, empty,
// {}) pass; every set field must be in the data as a UUID string equal to it (absent or null
// does not match); filters that do not parse match nothing.
func filtersPass(stored *string, data map[string]any) bool {
	if stored == nil || strings.TrimSpace(*stored) == "" {
		return true
	}
	var f *Filters
	if err := json.Unmarshal([]byte(*stored), &f); err != nil || f == nil {
		return false
	}
	return idMatches(data, "agent_id", f.AgentID) && idMatches(data, "stack_id", f.StackID)
}

func idMatches(data map[string]any, key string, want *uuid.UUID) bool {
	if want == nil {
		return true
	}
	s, ok := data[key].(string)
	if !ok {
		return false
	}
	got, err := uuid.Parse(s)
	return err == nil && got == *want
}
