package targetstate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"unique"

	"github.com/google/uuid"
)

// A full-mode answer depends on two things only: the stacks associated with the agent, and
// the latest live deployment object of each. Both are kept apart from the answers, so that
// when a stack gets a new object, the answers of all the agents associated with it are made
// again from what is kept plus one read of that stack's latest object, shared by all of them,
// instead of a read per agent. The association of an agent is dropped by changes of that
// agent and of everything; the latest object of a stack by changes of that stack and of
// everything.

// Object is a deployment object as target state serves it: its JSON and its sequence id.
type Object struct {
	JSON unique.Handle[string]
	Seq  int64
}

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

// LatestReader reads the latest live object of each of some stacks; stacks without one are
// left out of its result.
type LatestReader func(ctx context.Context, stacks []uuid.UUID) (map[uuid.UUID]Object, error)

// Latest returns the latest live object of each stack that has one, from what is kept and,
// for the rest, from read. Concurrent requests for the same stacks share one read, unless a
// change of one of them was seen in between: a request never gets an object read before a
// change this replica had already applied when the request came.
func (c *Cache) Latest(ctx context.Context, stacks []uuid.UUID, read LatestReader) (map[uuid.UUID]Object, error) {
	out := make(map[uuid.UUID]Object, len(stacks))
	var missing []uuid.UUID
	var since uint64
	if c.Active() {
		c.mu.Lock()
		since = c.allEpoch
		for _, s := range stacks {
			o, ok := c.latest[s]
			if !ok {
				missing = append(missing, s)
				since = max(since, c.stackEpoch[s])
				continue
			}
			if o.Seq != 0 { // sequence ids start at 1: 0 is a stack without a live object
				out[s] = o
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
	for s, o := range v.(map[uuid.UUID]Object) {
		out[s] = o
	}
	return out, nil
}

// putLatest keeps the latest objects of stacks read since t (a stack missing from got has
// none).
func (c *Cache) putLatest(t Ticket, stacks []uuid.UUID, got map[uuid.UUID]Object) {
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
		c.latest[s] = got[s] // the zero Object when the stack has none
	}
}

// ComposeAnswer makes the full-mode answer of an agent associated with stacks from the
// latest objects of those stacks: newest sequence first, as the database query orders them.
func ComposeAnswer(stacks []uuid.UUID, latest map[uuid.UUID]Object) *Answer {
	objs := make([]Object, 0, len(latest))
	for _, s := range stacks {
		if o, ok := latest[s]; ok {
			objs = append(objs, o)
		}
	}
	slices.SortFunc(objs, func(x, y Object) int { return cmp.Compare(y.Seq, x.Seq) })
	raw := make([][]byte, len(objs))
	for i, o := range objs {
		raw[i] = []byte(o.JSON.Value())
	}
	return NewAnswer(raw, stacks)
}
