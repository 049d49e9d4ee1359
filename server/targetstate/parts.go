package targetstate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// A full-mode answer depends on two things only: the stacks associated with the agent, and
// the latest live deployment object of each. Both are kept apart from the answers, so that
// when a stack gets a new object, the answers of all the agents associated with it are made
// again from what is kept plus one read of that stack's latest object, shared by all of them,
// instead of a read per agent. The association of an agent is dropped by changes of that
// agent and of everything; the latest object of a stack by changes of that stack and of
// everything.

// Stacks returns the stacks kept as associated with the agent.
func (c *Cache) Stacks(agent uuid.UUID) ([]uuid.UUID, bool) {
	if !c.Active() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.assoc[agent]
	return s, ok
}

// PutStacks keeps the stacks associated with the agent, read since t.
func (c *Cache) PutStacks(t Ticket, agent uuid.UUID, stacks []uuid.UUID) {
	if !c.Active() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changedSince(t, func(ch change) bool { return ch.kind == 'a' && ch.id == agent }) {
		return
	}
	if _, ok := c.assoc[agent]; !ok && len(c.assoc) >= c.max {
		for victim := range c.assoc {
			delete(c.assoc, victim)
			break
		}
	}
	c.assoc[agent] = slices.Clone(stacks)
}

// ViewReader reads the view of each of some stacks; stacks without a live object are left
// out of its result.
type ViewReader func(ctx context.Context, stacks []uuid.UUID) (map[uuid.UUID]View, error)

// Views returns the view of each stack that has a live object, from what is kept and, for
// the rest, from read. Concurrent requests for the same stacks share one read, unless a
// change of one of them was seen in between: a request never gets a view read before a
// change this replica had already applied when the request came.
func (c *Cache) Views(ctx context.Context, stacks []uuid.UUID, read ViewReader) (map[uuid.UUID]View, error) {
	out := make(map[uuid.UUID]View, len(stacks))
	var missing []uuid.UUID
	var since uint64
	if c.Active() {
		c.mu.Lock()
		since = c.allEpoch
		for _, s := range stacks {
			v, ok := c.latest[s]
			if !ok {
				missing = append(missing, s)
				since = max(since, c.stackEpoch[s])
				continue
			}
			if len(v) > 0 { // an empty view is a stack without a live object
				out[s] = v
			}
		}
		c.mu.Unlock()
	} else {
		return read(ctx, stacks) // nothing is kept, nothing is shared
	}
	if len(missing) == 0 {
		return out, nil
	}
	slices.SortFunc(missing, compareIDs)
	var key strings.Builder
	fmt.Fprintf(&key, "%d", since)
	for _, s := range missing {
		key.WriteString(s.String())
	}
	v, err, _ := c.flights.Do(key.String(), func() (any, error) {
		t := c.Begin()
		got, err := read(context.WithoutCancel(ctx), missing)
		if err != nil {
			return nil, err
		}
		c.putLatest(t, missing, got)
		return got, nil
	})
	if err != nil {
		return nil, err
	}
	for s, o := range v.(map[uuid.UUID]View) {
		out[s] = o
	}
	return out, nil
}

// putLatest keeps the views of stacks read since t (a stack missing from got has no live
// object).
func (c *Cache) putLatest(t Ticket, stacks []uuid.UUID, got map[uuid.UUID]View) {
	if !c.Active() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range stacks {
		if c.changedSince(t, func(ch change) bool { return ch.kind == 's' && ch.id == s }) {
			continue
		}
		if _, ok := c.latest[s]; !ok && len(c.latest) >= c.max {
			for victim := range c.latest {
				delete(c.latest, victim)
				break
			}
		}
		c.latest[s] = got[s] // empty when the stack has no live object
	}
}

// ComposedAnswer makes an agent's answer from what Compose resolved for it.
func ComposedAnswer(stacks []uuid.UUID, comp Composition) *Answer {
	raw := make([][]byte, len(comp.Objects))
	for i, o := range comp.Objects {
		raw[i] = []byte(o.JSON.Value())
	}
	a := NewAnswer(raw, stacks)
	a.Holds, a.Expires = comp.Holds, comp.Expires
	return a
}
