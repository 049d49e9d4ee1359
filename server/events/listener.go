package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Handler consumes the PostgreSQL notifications of one channel.
type Handler struct {
	Channel string
	Notify  func(payload string)
	// Reset runs after the listening connection was lost and again once a new one listens:
	// notifications may have been missed in between.
	Reset func()
}

// Listener keeps one database connection listening on the channels of its handlers.
type Listener struct {
	url       string
	log       *slog.Logger
	handlers  []Handler
	listening atomic.Bool
}

// NewListener returns a listener that connects to databaseURL.
func NewListener(databaseURL string, log *slog.Logger, handlers ...Handler) *Listener {
	return &Listener{url: databaseURL, log: log, handlers: handlers}
}

// Listening reports whether the listener's connection is listening now.
func (l *Listener) Listening() bool { return l.listening.Load() }

// Run listens until ctx ends, reconnecting with a growing delay after a lost connection.
func (l *Listener) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected, err := l.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		for _, h := range l.handlers {
			h.Reset()
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		l.log.Warn("notification listener disconnected; retrying", slog.Any("error", err), slog.Duration("in", backoff))
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
func (l *Listener) listenOnce(ctx context.Context) (bool, error) {
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		return false, fmt.Errorf("parse database url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	byChannel := make(map[string]func(string), len(l.handlers))
	for _, h := range l.handlers {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{h.Channel}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", h.Channel, err)
		}
		byChannel[h.Channel] = h.Notify
	}
	// Anything learnt before LISTEN took effect may be stale.
	for _, h := range l.handlers {
		h.Reset()
	}
	l.listening.Store(true)
	defer l.listening.Store(false)
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
