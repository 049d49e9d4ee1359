package server

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
)

// AdminPAKHashWarning is the warning of a rotation on a broker that configures
// broker.pak_hash; newHash is the hash of the new key.
func AdminPAKHashWarning(newHash string) string {
	return "broker.pak_hash is configured and wins at every start: the next start of a broker " +
		"brings the old admin key back unless broker.pak_hash is set to " + newHash + " (or removed)"
}

// rotateAdminPAK is POST /admin/rotate-pak: it mints a new admin PAK, stores its hash and
// evicts the old key on every replica. The read-only key is refused by authenticate.
func (s *Server) rotateAdminPAK(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return err
	}
	replaced, err := db.RotateAdminPAKHash(c.Request().Context(), s.db, hash)
	if err != nil {
		return err
	}
	// The database notified every replica at commit; this one also closes the sockets
	// opened with the old key, here and on the others.
	s.evictPAK(replaced...)
	s.metrics.defaultAdminKey.Set(0)
	s.log.Info("admin PAK rotated")
	res := client.AdminPAKResponse{PAK: key, PAKHash: hash}
	if s.Config().Broker.PAKHash != "" {
		res.Warning = AdminPAKHashWarning(hash)
		s.log.Warn("admin PAK rotated while broker.pak_hash is configured; the next start restores the configured key",
			slog.String("pak_hash", hash))
	}
	s.audit(c, audit.Entry{Action: audit.PAKRotated, ResourceType: audit.ResourcePAK,
		Details: map[string]any{"role": "admin"}})
	return reply(c, http.StatusOK, res)
}
