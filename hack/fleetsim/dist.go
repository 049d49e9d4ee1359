package main

import (
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

// distTracker measures one distribution: from the POST of a deployment object until
// every simulated agent has reported SUCCESS for it.
type distTracker struct {
	mu     sync.Mutex
	object uuid.UUID
	posted time.Time
	// early holds reports that arrived before the POST answered with the object's id.
	early map[uuid.UUID]map[int]time.Time
	at    map[int]time.Time
	want  int
	all   chan struct{}
}

func newDistTracker(want int) *distTracker {
	return &distTracker{early: map[uuid.UUID]map[int]time.Time{}, at: map[int]time.Time{}, want: want, all: make(chan struct{})}
}

// begin marks the POST's start; reports until started name objects of the past.
func (d *distTracker) begin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.posted = time.Now()
}

// started names the posted object.
func (d *distTracker) started(obj uuid.UUID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.object = obj
	for i, t := range d.early[obj] {
		d.record(i, t)
	}
	d.early = nil
}

func (d *distTracker) reported(obj uuid.UUID, idx int, t time.Time) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.posted.IsZero():
	case d.object == uuid.Nil:
		if d.early[obj] == nil {
			d.early[obj] = map[int]time.Time{}
		}
		d.early[obj][idx] = t
	case obj == d.object:
		d.record(idx, t)
	}
}

func (d *distTracker) record(idx int, t time.Time) {
	if _, ok := d.at[idx]; ok {
		return
	}
	d.at[idx] = t
	if len(d.at) == d.want {
		close(d.all)
	}
}

// result summarises the distribution so far.
func (d *distTracker) result() *DistReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	var h Histogram
	for _, t := range d.at {
		h.Record(t.Sub(d.posted))
	}
	r := &DistReport{Object: d.object.String(), Agents: d.want, Reported: len(d.at), Complete: len(d.at) == d.want,
		Latency: latencies(&h)}
	if r.Complete {
		r.AllMs = ms(h.Max())
	}
	return r
}

var errDistTimeout = errors.New("distribution did not complete")
