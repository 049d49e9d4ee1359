package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/google/uuid"
)

// Fleet is the handle for the fleet overview.
type Fleet struct{ c *Client }

// Fleet returns the fleet handle.
func (c *Client) Fleet() *Fleet { return &Fleet{c: c} }

// List returns the fleet record of every live agent; a non-nil generatorID keeps the agents
// registered with that generator (admin).
func (f *Fleet) List(ctx context.Context, generatorID *uuid.UUID) ([]FleetAgentRecord, error) {
	q := url.Values{}
	if generatorID != nil {
		q.Set("pak_id", generatorID.String())
	}
	return call[[]FleetAgentRecord](ctx, f.c, request{method: http.MethodGet, path: "/fleet", query: q})
}
