package client

import (
	"context"
	"net/http"
)

// Healthz asks the broker's liveness endpoint, /healthz, once (no retries) and returns the
// status code of its answer (200 when the process is up); the error is a failure to get an
// answer at all. The broker reads no credential there, so a client without a PAK may ask.
func (c *Client) Healthz(ctx context.Context) (int, error) {
	u := *c.base
	u.Path += "/healthz"
	u.RawPath, u.RawQuery = "", ""
	a, err := c.attempt(ctx, http.MethodGet, u.String(), nil, "", "", nil)
	if err != nil {
		return 0, err
	}
	return a.status, nil
}
