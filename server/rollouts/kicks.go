package rollouts

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// kickSpacing is how often, at most, a replica steps one rollout after agents' reports. An
// agent reporting in a loop, or a thousand agents reporting at once, cost one step per
// spacing, not one per report.
const kickSpacing = 200 * time.Millisecond

// kicks spaces the steps made after agents' reports, per rollout. The spacing goes by the
// real time: it bounds work, it decides nothing.
type kicks struct {
	mu      sync.Mutex
	last    map[uuid.UUID]time.Time // when each rollout was last stepped after a report
	pending map[uuid.UUID]bool      // rollouts with a deferred step
	closed  bool
	wg      sync.WaitGroup
}

// admit reports whether rollout id may be stepped now; if not, step runs once the spacing has
// passed (unless one is already pending, or the controller is closed).
func (k *kicks) admit(id uuid.UUID, step func()) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.pending[id] {
		return false
	}
	now := time.Now()
	since := now.Sub(k.last[id])
	if since >= kickSpacing {
		if len(k.last) >= 10000 {
			for r, at := range k.last {
				if now.Sub(at) >= kickSpacing {
					delete(k.last, r)
				}
			}
		}
		k.last[id] = now
		return true
	}
	k.pending[id] = true
	k.wg.Add(1)
	time.AfterFunc(kickSpacing-since, func() {
		defer k.wg.Done()
		k.mu.Lock()
		delete(k.pending, id)
		closed := k.closed
		if !closed {
			k.last[id] = time.Now()
		}
		k.mu.Unlock()
		if !closed {
			step()
		}
	})
	return false
}

// close stops the deferred steps: those not started never run; it waits for one under way.
func (k *kicks) close() {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	k.wg.Wait()
}
