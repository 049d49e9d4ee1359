package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// authEvictChannel carries PAK hashes whose cached resolutions every replica must drop.
const authEvictChannel = "brokkr_auth_evict"

// notifyHandler consumes the PostgreSQL notifications of one channel.
type notifyHandler struct {
	channel string
	notify  func(payload string)
	// reset runs after the listening connection was lost and again once a new one listens:
	// notifications may have been missed in between.
	reset func()
}

// notifyHandlers lists the channels every replica listens on.
func (s *Server) notifyHandlers() []notifyHandler {
	hs := []notifyHandler{{
		channel: authEvictChannel,
		notify:  func(p string) { s.authCache.evict(p) },
		reset:   s.authCache.clear,
	}}
	if s.live != nil {
		hs = append(hs, s.live.notifyHandler(), s.live.revocationHandler())
	}
	return hs
}

// evictPAK drops cached resolutions of these hashes here at once and, through PostgreSQL
// NOTIFY, on every other replica sharing the database; then it closes the sockets opened
// with them, on every replica (ws_revoke.go).
func (s *Server) evictPAK(hashes ...string) {
	defer s.revokeSockets(recheck{Hashes: hashes})
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

// listenNotifications keeps one connection listening on every channel of notifyHandlers
// until ctx ends, reconnecting with a growing delay after a lost connection.
func (s *Server) listenNotifications(ctx context.Context) {
	handlers := s.notifyHandlers()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected, err := s.listenOnce(ctx, handlers)
		if ctx.Err() != nil {
			return
		}
		for _, h := range handlers {
			h.reset()
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		s.log.Warn("notification listener disconnected; retrying", slog.Any("err", err), slog.Duration("in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// listenOnce listens on one connection until it fails or ctx ends. It reports whether the
// connection got as far as listening.
func (s *Server) listenOnce(ctx context.Context, handlers []notifyHandler) (bool, error) {
	cfg, err := pgx.ParseConfig(s.db.URL())
	if err != nil {
		return false, fmt.Errorf("parse database url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	byChannel := make(map[string]func(string), len(handlers))
	for _, h := range handlers {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{h.channel}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", h.channel, err)
		}
		byChannel[h.channel] = h.notify
	}
	// Anything learnt before LISTEN took effect may be stale.
	for _, h := range handlers {
		h.reset()
	}
	s.listening.Store(true)
	defer s.listening.Store(false)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return true, nil
			}
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		if f := byChannel[n.Channel]; f != nil {
			f(n.Payload)
		}
	}
}
