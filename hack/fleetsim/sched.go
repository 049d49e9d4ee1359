package main

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler runs every agent's polling cycle each interval from one heap of due times, so
// that an idle agent costs no goroutine: inflight workers run the cycles as they fall due.
// As in brokkr-agent, a cycle longer than the interval delays the next one. Beyond what the
// connection pool can carry, more cycles at once would only wait for a connection inside the
// simulator, each holding its memory; cycles that find no free worker start late instead,
// and the schedule lag says by how much.
type scheduler struct {
	interval time.Duration
	inflight int
	stats    *stats
	mu       sync.Mutex
	due      dueHeap
	wake     chan struct{} // an earlier due time was pushed
}

// newScheduler schedules every agent's first cycle at start plus its phase, the phases
// spread evenly over the interval.
func newScheduler(agents []*simAgent, start time.Time, interval time.Duration, inflight int, s *stats) *scheduler {
	sc := &scheduler{interval: interval, inflight: inflight, stats: s, wake: make(chan struct{}, 1),
		due: make(dueHeap, 0, len(agents))}
	n := int64(len(agents))
	for i, a := range agents {
		a.due = start.Add(time.Duration(int64(interval) * int64(i) / n))
		sc.due = append(sc.due, a)
	}
	heap.Init(&sc.due)
	return sc
}

// run hands the cycles to the workers as they fall due until ctx ends, then waits for the
// cycles running.
func (sc *scheduler) run(ctx context.Context) {
	work := make(chan *simAgent)
	var workers sync.WaitGroup
	defer workers.Wait()
	defer close(work)
	for range sc.inflight {
		workers.Go(func() {
			for a := range work {
				sc.cycle(ctx, a)
			}
		})
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		a := sc.next(ctx, t)
		if a == nil {
			return
		}
		select {
		case work <- a:
		case <-ctx.Done():
			return
		}
	}
}

// next waits until the earliest cycle is due and takes it off the heap; nil when ctx ends.
func (sc *scheduler) next(ctx context.Context, t *time.Timer) *simAgent {
	for {
		sc.mu.Lock()
		wait := time.Hour
		if len(sc.due) > 0 {
			if wait = time.Until(sc.due[0].due); wait <= 0 {
				a := heap.Pop(&sc.due).(*simAgent)
				sc.mu.Unlock()
				return a
			}
		}
		sc.mu.Unlock()
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-sc.wake:
		}
	}
}

// cycle runs one cycle and schedules the next an interval after its start.
func (sc *scheduler) cycle(ctx context.Context, a *simAgent) {
	start := time.Now()
	sc.stats.lag.Record(start.Sub(a.due))
	a.cycle(ctx)
	if ctx.Err() != nil {
		return
	}
	sc.stats.cycles.Add(1)
	next := start.Add(sc.interval)
	if now := time.Now(); next.Before(now) {
		sc.stats.late.Add(1)
		next = now
	}
	sc.mu.Lock()
	a.due = next
	heap.Push(&sc.due, a)
	first := sc.due[0] == a
	sc.mu.Unlock()
	if first {
		select {
		case sc.wake <- struct{}{}:
		default:
		}
	}
}

// dueHeap orders agents by their next cycle.
type dueHeap []*simAgent

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }

func (h *dueHeap) Push(x any) {
	*h = append(*h, x.(*simAgent))
}

func (h *dueHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return a
}
