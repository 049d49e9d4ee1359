package live

import (
	"testing"

	"github.com/google/uuid"
)

// TestRecheckSetBounded: pending re-checks coalesce, and past maxRecheckKeys names they widen
// to every socket instead of growing or dropping anything.
func TestRecheckSetBounded(t *testing.T) {
	var r recheckSet
	agent, stack := uuid.New(), uuid.New()
	r.add(Sockets{Hashes: []string{"h1", "", "h1"}, Agents: []uuid.UUID{agent}})
	r.add(Sockets{Hashes: []string{"h1"}, Stacks: []uuid.UUID{stack}})
	c, ok := r.take()
	if !ok || c.All || len(c.Hashes) != 1 || c.Hashes[0] != "h1" || len(c.Agents) != 1 || len(c.Stacks) != 1 {
		t.Fatalf("coalesced %+v %v", c, ok)
	}
	if _, ok := r.take(); ok {
		t.Fatal("take did not empty the set")
	}

	for i := 0; i <= maxRecheckKeys; i++ {
		r.add(Sockets{Agents: []uuid.UUID{uuid.New()}})
	}
	c, ok = r.take()
	if !ok || !c.All || len(c.Agents) != 0 {
		t.Fatalf("past %d names: %v agents, all=%v", maxRecheckKeys, len(c.Agents), c.All)
	}
	r.add(Sockets{All: true})
	r.add(Sockets{Hashes: []string{"h2"}})
	if c, _ := r.take(); !c.All || len(c.Hashes) != 0 {
		t.Fatalf("after all: %+v", c)
	}
}
