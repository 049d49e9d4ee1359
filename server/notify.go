package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// authEvictChannel carries PAK hashes whose cached resolutions every replica must drop.
const authEvictChannel = "brokkr_auth_evict"

// evictPAK drops cached resolutions of these hashes here at once and, through PostgreSQL
// NOTIFY, on every other replica sharing the database.
func (s *Server) evictPAK(hashes ...string) {
	s.authCache.evict(hashes...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, h := range hashes {
		if h == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, authEvictChannel, h); err != nil {
			s.log.Warn("notify auth eviction", slog.Any("err", err))
		}
	}
}

// listenAuthEvictions keeps a connection listening for evictions made by other replicas
// until ctx ends. After a lost connection the whole cache is dropped, since notifications
// may have been missed.
func (s *Server) listenAuthEvictions(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.authCache.clear()
		s.log.Warn("auth eviction listener disconnected; retrying", slog.Any("err", err), slog.Duration("in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (s *Server) listenOnce(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(s.db.URL())
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+authEvictChannel); err != nil {
		return err
	}
	// Anything cached before LISTEN took effect may have missed an eviction.
	s.authCache.clear()
	s.listening.Store(true)
	defer s.listening.Store(false)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		s.authCache.evict(n.Payload)
	}
}
