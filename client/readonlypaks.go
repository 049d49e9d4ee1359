package client

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// ReadOnlyPAK is a named read-only key as listed: never the key itself.
type ReadOnlyPAK struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// ReadOnlyPAKCreated is a new read-only key with the key itself, shown this once.
type ReadOnlyPAKCreated struct {
	ReadOnlyPAK
	PAK string `json:"pak"`
}

// CreateReadOnlyPAKRequest names a new read-only key.
type CreateReadOnlyPAKRequest struct {
	Name string `json:"name"`
}

// ReadOnlyPAKs is the handle for named read-only keys: keys that read what the admin reads
// (secrets excepted) and change nothing. Creating, listing and revoking them is for the admin;
// a read-only key may list them but not create or revoke one (403 read_only).
type ReadOnlyPAKs struct{ c *Client }

// ReadOnlyPAKs returns the read-only key handle.
func (c *Client) ReadOnlyPAKs() *ReadOnlyPAKs { return &ReadOnlyPAKs{c: c} }

// Create mints a read-only key named name; the answer carries the key, which the broker
// never shows again. A name held by another key that is not revoked is a 409
// unique_violation.
func (r *ReadOnlyPAKs) Create(ctx context.Context, name string) (ReadOnlyPAKCreated, error) {
	return call[ReadOnlyPAKCreated](ctx, r.c, request{method: http.MethodPost, path: "/read-only-paks",
		body: CreateReadOnlyPAKRequest{Name: name}})
}

// List returns the read-only keys that are not revoked, by name.
func (r *ReadOnlyPAKs) List(ctx context.Context) ([]ReadOnlyPAK, error) {
	return call[[]ReadOnlyPAK](ctx, r.c, request{method: http.MethodGet, path: "/read-only-paks"})
}

// Revoke revokes a read-only key: it stops authenticating on every replica at once and its
// open WebSockets are closed. An unknown or already revoked id is a 404
// read_only_pak_not_found.
func (r *ReadOnlyPAKs) Revoke(ctx context.Context, id uuid.UUID) error {
	_, err := r.c.do(ctx, request{method: http.MethodDelete, path: "/read-only-paks/" + id.String()}, nil)
	return err
}

// IsReadOnlyRefusal reports a 403 read_only: the caller holds a read-only key (a named
// read-only PAK or the read-only admin key) and the request needs an admin key.
func IsReadOnlyRefusal(err error) bool {
	return IsForbidden(err) && HasCode(err, "read_only")
}
