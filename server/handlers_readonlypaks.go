package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
)

// Named read-only PAKs: the admin mints, lists and revokes keys of the read-only role (the
// role of the in-memory read-only admin key, see readOnlyAllowed). Only their hashes are
// stored; a key is shown once, when it is created.

// installReadOnlyPAKs registers the read-only PAK routes.
func (s *Server) installReadOnlyPAKs(g routes) {
	g.POST("/read-only-paks", s.createReadOnlyPAK)
	g.GET("/read-only-paks", s.listReadOnlyPAKs)
	g.DELETE("/read-only-paks/:id", s.revokeReadOnlyPAK)
}

func toReadOnlyPAK(k db.ReadOnlyPAK) client.ReadOnlyPAK {
	return client.ReadOnlyPAK{ID: k.ID, Name: k.Name, CreatedAt: utc(k.CreatedAt)}
}

// createReadOnlyPAK is POST /read-only-paks: admin (a read-only key is refused by the
// middleware). A name already held by a key that is not revoked is 409 unique_violation.
func (s *Server) createReadOnlyPAK(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	var body struct {
		Name *string `json:"name"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return missing("name")
	}
	if err := checkName("invalid_read_only_pak", "name", *body.Name); err != nil {
		return err
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return err
	}
	k, err := db.CreateReadOnlyPAK(c.Request().Context(), s.db, *body.Name, hash)
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.ReadOnlyPAKCreated, ResourceType: audit.ResourceReadOnlyPAK, ResourceID: ptr(k.ID),
		Details: map[string]any{"name": k.Name}})
	return reply(c, http.StatusCreated, client.ReadOnlyPAKCreated{ReadOnlyPAK: toReadOnlyPAK(k), PAK: key})
}

// listReadOnlyPAKs is GET /read-only-paks: the keys that are not revoked, never a key or a
// hash (admin, read-only keys included).
func (s *Server) listReadOnlyPAKs(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	rows, err := db.ListReadOnlyPAKs(c.Request().Context(), s.db)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toReadOnlyPAK))
}

// revokeReadOnlyPAK is DELETE /read-only-paks/{id}: the key stops authenticating on every
// replica (its cached resolutions are evicted) and its open sockets are closed.
func (s *Server) revokeReadOnlyPAK(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	k, err := db.RevokeReadOnlyPAK(c.Request().Context(), s.db, id)
	if err != nil {
		return orNotFound(err, notFound("read_only_pak_not_found", "no read-only PAK with this id"))
	}
	s.evictPAK(k.PAKHash)
	s.audit(c, audit.Entry{Action: audit.ReadOnlyPAKRevoked, ResourceType: audit.ResourceReadOnlyPAK, ResourceID: ptr(k.ID),
		Details: map[string]any{"name": k.Name}})
	return c.NoContent(http.StatusNoContent)
}
