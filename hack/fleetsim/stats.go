package main

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/brokkr/brokkr/client"
)

// opStats are one operation's latencies and outcomes.
type opStats struct {
	hist        Histogram     // successful requests, 304s included
	notModified atomic.Uint64 // 304 answers to a conditional target-state request
	errors      atomic.Uint64
	throttled   atomic.Uint64 // 429 answers with a Retry-After, not counted as errors
	throttledNA atomic.Uint64 // 429 answers without one
	lastErr     atomic.Value  // string
}

// stats are the measurements of a run, shared by every simulated agent.
type stats struct {
	ops map[string]*opStats
	// admitted are the latencies of every request the broker answered other than with 429;
	// refused those of the 429s.
	admitted, refused Histogram
	// cycles counts the agents' polling cycles that ran to the end; late those that took
	// longer than the interval, so that the next one started late.
	cycles, late atomic.Uint64
	// lag is how late the simulator started the cycles it had scheduled, which tells whether
	// the load generator kept up.
	lag Histogram
}

func newStats() *stats {
	s := &stats{ops: map[string]*opStats{}}
	for _, op := range opOrder {
		s.ops[op] = &opStats{}
	}
	return s
}

// time runs one request and records it: latency of successful requests, 429s and errors
// apart. Requests cut short by the end of the run are not counted.
func (s *stats) time(ctx context.Context, op string, f func() error) error {
	start := time.Now()
	err := f()
	took := time.Since(start)
	o := s.ops[op]
	ce, answered := client.AsError(err)
	switch {
	case err == nil:
		o.hist.Record(took)
		s.admitted.Record(took)
	case ctx.Err() != nil:
	case answered && ce.StatusCode == http.StatusTooManyRequests:
		if ce.RetryAfter > 0 {
			o.throttled.Add(1)
		} else {
			o.throttledNA.Add(1)
		}
		s.refused.Record(took)
	default:
		if answered {
			s.admitted.Record(took)
		}
		o.errors.Add(1)
		o.lastErr.Store(err.Error())
	}
	return err
}
