package client

import (
	"context"
	"net/http"
)

// call performs a request and decodes its JSON answer into a fresh T.
func call[T any](ctx context.Context, c *Client, r request) (T, error) {
	var out T
	_, err := c.do(ctx, r, &out)
	return out, err
}

// Auth is the handle for checking the client's own credential.
type Auth struct{ c *Client }

// Auth returns the authentication handle.
func (c *Client) Auth() *Auth { return &Auth{c: c} }

// Verify returns the identity behind the client's PAK (any valid PAK, including the
// read-only admin key). An unknown key is an *Error with status 401 and no code.
func (a *Auth) Verify(ctx context.Context) (AuthResponse, error) {
	return call[AuthResponse](ctx, a.c, request{method: http.MethodPost, path: "/auth/pak"})
}

// PAKs is the handle for the list of PAK holders.
type PAKs struct{ c *Client }

// PAKs returns the PAK holder handle.
func (c *Client) PAKs() *PAKs { return &PAKs{c: c} }

// List returns the live, non-system generators that hold a PAK, admin-generator included
// (admin, including the read-only admin key).
func (p *PAKs) List(ctx context.Context) ([]PakSummary, error) {
	return call[[]PakSummary](ctx, p.c, request{method: http.MethodGet, path: "/paks"})
}
