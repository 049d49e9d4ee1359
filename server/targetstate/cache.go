// Package targetstate keeps each agent's target-state answer in memory, so that a poll that
// finds nothing changed costs the broker no database round trip, and gives every answer an
// entity tag, so that it costs no body either.
//
// An answer is dropped by exactly the changes that can alter it. Triggers in the database
// (migration 000016) announce every such change on the brokkr_target_state channel at
// commit: the deployment objects of one stack, what one agent targets, is registered with or
// has reported, or (for stack labels, annotations, deletion and ownership, which can change
// any agent's targets) everything. Every replica listens and drops the answers concerned, so
// writes through any replica, the workers or plain SQL all count. The replica that made a
// write also waits for its own notifications before answering the write (Sync), so that a
// client reading right after its write never sees the answer from before it.
//
// While the notification listener is not listening, the cache neither serves nor keeps
// answers: a change could go unseen. It is emptied each time the listener (re)connects.
package targetstate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/brokkr/brokkr/internal/logx"
	"github.com/brokkr/brokkr/server/events"
)

// Channel is the notification channel the database triggers announce changes on.
const Channel = "brokkr_target_state"

// recentChanges is how many changes a lookup may overlap and still keep its answer.
const recentChanges = 1024

// syncTimeout bounds Sync's wait for the replica's own notification; past it the whole
// cache is dropped instead.
const syncTimeout = 2 * time.Second

// Key names one answer: an agent's target state in one mode.
type Key struct {
	Agent       uuid.UUID
	Incremental bool
}

// Execer runs a statement; *db.DB is one.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Options configure a Cache.
type Options struct {
	// Schema is the database schema whose changes count (the triggers name theirs).
	Schema string
	// MaxEntries bounds the answers kept (0: none are kept; entity tags still work).
	MaxEntries int
	// Listening reports whether the notification listener is listening now.
	Listening func() bool
	// DB sends Sync's notification.
	DB       Execer
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Clock is the time answers expire by (default time.Now).
	Clock func() time.Time
}

// change is one invalidation, as the recent-changes ring remembers it.
type change struct {
	kind byte // 'g' everything (apply windows included), 's' a stack, 'a' an agent
	id   uuid.UUID
}

// Cache holds the answers. Its methods are safe for concurrent use.
type Cache struct {
	schema    string
	max       int
	listening func() bool
	db        Execer
	log       *slog.Logger
	metrics   *metrics
	clock     func() time.Time

	mu      sync.Mutex
	entries map[Key]*Answer
	byStack map[uuid.UUID]map[Key]struct{} // the answers each stack is associated with
	epoch   uint64                         // number of changes seen
	recent  [recentChanges]change          // the last changes, by epoch modulo the size
	waiters map[string]chan struct{}       // Sync's pending notifications, by nonce

	// The parts answers in full mode are made of (parts.go).
	assoc      map[uuid.UUID][]uuid.UUID // agent → its associated stacks, sorted
	latest     map[uuid.UUID]View        // stack → the objects it serves (empty: none)
	stackEpoch map[uuid.UUID]uint64      // stack → epoch of its last change
	allEpoch   uint64                    // epoch of the last change of everything
	flights    singleflight.Group        // reads of latest objects, shared

	windows     Windows // the apply windows (windows.go)
	windowsKept bool    // windows is current

	notifyDelay atomic.Int64 // see SetNotifyDelay
}

// New returns an empty cache.
func New(o Options) *Cache {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	listening := o.Listening
	if listening == nil {
		listening = func() bool { return false }
	}
	c := &Cache{
		schema: o.Schema, max: max(o.MaxEntries, 0), listening: listening, db: o.DB, log: log,
		entries: map[Key]*Answer{}, byStack: map[uuid.UUID]map[Key]struct{}{},
		waiters: map[string]chan struct{}{},
		assoc:   map[uuid.UUID][]uuid.UUID{}, latest: map[uuid.UUID]View{}, stackEpoch: map[uuid.UUID]uint64{},
	}
	c.clock = o.Clock
	if c.clock == nil {
		c.clock = time.Now
	}
	c.metrics = newMetrics(o.Registry, c)
	return c
}

// Active reports whether answers are served and kept now.
func (c *Cache) Active() bool { return c.max > 0 && c.listening() }

// Get returns the answer kept for k, if any.
func (c *Cache) Get(k Key) (*Answer, bool) {
	if !c.Active() {
		c.metrics.lookups.WithLabelValues("bypass").Inc()
		return nil, false
	}
	c.mu.Lock()
	a, ok := c.entries[k]
	c.mu.Unlock()
	if ok && !a.Expires.IsZero() && !c.clock().Before(a.Expires) {
		ok = false // an apply window opened or closed since
	}
	if ok {
		c.metrics.lookups.WithLabelValues("hit").Inc()
	} else {
		c.metrics.lookups.WithLabelValues("miss").Inc()
	}
	return a, ok
}

// Ticket marks when a lookup in the database began.
type Ticket uint64

// Begin is called before the database is read for an answer that will be Put.
func (c *Cache) Begin() Ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket(c.epoch)
}

// Put keeps a for k, unless a change that concerns it was seen since t (the answer may
// have been read before that change) or the cache is not active.
func (c *Cache) Put(t Ticket, k Key, a *Answer) {
	if !c.Active() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changedSince(t, func(ch change) bool {
		return ch.kind == 'a' && ch.id == k.Agent || ch.kind == 's' && a.concerns(ch.id)
	}) {
		return
	}
	if old, ok := c.entries[k]; ok {
		c.unindex(k, old)
	} else if len(c.entries) >= c.max {
		for victim, va := range c.entries { // any one: map order is random enough
			c.unindex(victim, va)
			delete(c.entries, victim)
			break
		}
	}
	c.entries[k] = a
	for _, s := range a.stacks {
		m := c.byStack[s]
		if m == nil {
			m = map[Key]struct{}{}
			c.byStack[s] = m
		}
		m[k] = struct{}{}
	}
}

func (c *Cache) unindex(k Key, a *Answer) {
	for _, s := range a.stacks {
		if m := c.byStack[s]; m != nil {
			delete(m, k)
			if len(m) == 0 {
				delete(c.byStack, s)
			}
		}
	}
}

// changedSince reports whether a change since t concerns what was read (a change of
// everything always does, and so does any once the ring no longer reaches back to t); c.mu is
// held.
func (c *Cache) changedSince(t Ticket, concerns func(change) bool) bool {
	if c.epoch-uint64(t) > recentChanges {
		return true
	}
	for e := uint64(t) + 1; e <= c.epoch; e++ {
		if ch := c.recent[e%recentChanges]; ch.kind == 'g' || concerns(ch) {
			return true
		}
	}
	return false
}

// record notes a change in the ring; c.mu is held.
func (c *Cache) record(kind byte, id uuid.UUID) {
	c.epoch++
	c.recent[c.epoch%recentChanges] = change{kind: kind, id: id}
	c.metrics.invalidations.WithLabelValues(kindName(kind)).Inc()
}

// InvalidateAgent drops the answers of one agent.
func (c *Cache) InvalidateAgent(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record('a', id)
	delete(c.assoc, id)
	for _, k := range []Key{{Agent: id}, {Agent: id, Incremental: true}} {
		if a, ok := c.entries[k]; ok {
			c.unindex(k, a)
			delete(c.entries, k)
		}
	}
}

// InvalidateStack drops the answers of the agents associated with one stack.
func (c *Cache) InvalidateStack(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record('s', id)
	delete(c.latest, id)
	c.stackEpoch[id] = c.epoch
	for k := range c.byStack[id] {
		if a, ok := c.entries[k]; ok {
			c.unindex(k, a)
			delete(c.entries, k)
		}
	}
}

// InvalidateAll drops every answer.
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record('g', uuid.Nil)
	clear(c.entries)
	clear(c.byStack)
	clear(c.assoc)
	clear(c.latest)
	clear(c.stackEpoch)
	c.allEpoch = c.epoch
	c.windows, c.windowsKept = Windows{}, false
}

// Len returns the number of answers kept.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Handler returns the listener handler of the cache's channel.
func (c *Cache) Handler() events.Handler {
	return events.Handler{Channel: Channel, Notify: c.notify, Reset: c.InvalidateAll}
}

// notify applies one notification: "<schema>|<kind>:<id>".
func (c *Cache) notify(payload string) {
	if d := c.notifyDelay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	schema, rest, ok := strings.Cut(payload, "|")
	if !ok || schema != c.schema {
		return // another broker's schema in the same database
	}
	kind, arg, _ := strings.Cut(rest, ":")
	switch kind {
	case "b":
		c.mu.Lock()
		if ch, ok := c.waiters[arg]; ok {
			close(ch)
			delete(c.waiters, arg)
		}
		c.mu.Unlock()
	case "g", "w": // w: the apply windows changed, which InvalidateAll drops too
		c.InvalidateAll()
	case "s", "a":
		id, err := uuid.Parse(arg)
		if err != nil {
			c.InvalidateAll()
			return
		}
		if kind == "s" {
			c.InvalidateStack(id)
		} else {
			c.InvalidateAgent(id)
		}
	}
}

// Sync returns once this replica has applied the notifications of every change committed
// before the call: it sends a notification of its own and waits for it, notifications
// arriving in commit order. When that fails or takes longer than a moment, it drops every
// answer instead. Writes call it before they answer.
func (c *Cache) Sync(ctx context.Context) {
	if !c.Active() {
		return // nothing is served from memory now; the listener's reconnection clears it
	}
	start := time.Now()
	var b [12]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	done := make(chan struct{})
	c.mu.Lock()
	c.waiters[nonce] = done
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, nonce)
		c.mu.Unlock()
		c.metrics.syncSeconds.Observe(time.Since(start).Seconds())
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
	defer cancel()
	if _, err := c.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, c.schema+"|b:"+nonce); err != nil {
		c.log.Warn("target-state cache: sync notification failed; dropping every answer", logx.Err(err))
		c.InvalidateAll()
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
		c.log.Warn("target-state cache: own notification late; dropping every answer")
		c.InvalidateAll()
	}
}

func kindName(kind byte) string {
	switch kind {
	case 'a':
		return "agent"
	case 's':
		return "stack"
	default:
		return "all"
	}
}
