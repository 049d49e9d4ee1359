package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/live"
)

// notifyHandlers lists the channels every replica listens on.
func (s *Server) notifyHandlers() []events.Handler {
	return append([]events.Handler{{
		Channel: db.AuthEvictChannel,
		Notify:  func(p string) { s.authCache.evict(p) },
		Reset:   s.authCache.clear,
	}, s.targets.Handler()}, s.live.NotifyHandlers()...)
}

// evictPAK drops cached resolutions of these hashes here at once and, through PostgreSQL
// NOTIFY, on every other replica sharing the database; then it closes the sockets opened
// with them, on every replica.
func (s *Server) evictPAK(hashes ...string) {
	defer s.live.Revoke(live.Sockets{Hashes: hashes})
	s.authCache.evict(hashes...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, h := range hashes {
		if h == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, db.AuthEvictChannel, h); err != nil {
			s.log.Warn("notify auth eviction", slog.Any("error", err))
		}
	}
}
