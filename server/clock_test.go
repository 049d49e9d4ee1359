package server_test

import (
	"sync"
	"time"
)

// roClock is a controlled clock the replicas of a test go by (rollouts, apply windows).
type roClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *roClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// set sets the clock to t.
func (c *roClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// at sets the clock to roT0 + d.
func (c *roClock) at(d time.Duration) { c.set(roT0.Add(d)) }
