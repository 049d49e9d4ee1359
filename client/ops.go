package client

import (
	"context"
	"fmt"
	"net/http"
)

// Ready asks the broker's /readyz once (no retries): nil when it answers 2xx, i.e. it is up
// and reaches its database.
func (c *Client) Ready(ctx context.Context) error {
	u := *c.base
	u.Path += "/readyz"
	u.RawPath, u.RawQuery = "", ""
	a, err := c.attempt(ctx, http.MethodGet, u.String(), nil, "", "", nil)
	if err != nil {
		return fmt.Errorf("GET /readyz: %w", err)
	}
	if a.status < 200 || a.status >= 300 {
		return errorFrom(http.MethodGet, "/readyz", a.status, a.header, a.body)
	}
	return nil
}
