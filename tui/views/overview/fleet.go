package overview

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Agent statuses counted apart.
const (
	statusActive   = "ACTIVE"
	statusInactive = "INACTIVE"
)

// counts are the fleet's aggregates. They are kept incrementally: a record's contribution
// is taken out before it is replaced and the new one's is added.
type counts struct {
	total, active, inactive, connected int
	k8sUp, k8sDown, k8sUnknown         int
	failingAgents, degradedAgents      int
	failingRows, degradedRows          int64
}

func (c *counts) add(r *client.FleetAgentRecord, sign int) {
	c.total += sign
	switch r.Status {
	case statusActive:
		c.active += sign
	case statusInactive:
		c.inactive += sign
	}
	if r.WSConnected {
		c.connected += sign
	}
	switch {
	case r.K8sReachable == nil:
		c.k8sUnknown += sign
	case *r.K8sReachable:
		c.k8sUp += sign
	default:
		c.k8sDown += sign
	}
	if r.HealthFailing > 0 {
		c.failingAgents += sign
	}
	if r.HealthDegraded > 0 {
		c.degradedAgents += sign
	}
	c.failingRows += int64(sign) * r.HealthFailing
	c.degradedRows += int64(sign) * r.HealthDegraded
}

// unhealthy reports that some agent holds a failing or degraded health row.
func (c *counts) unhealthy() bool { return c.failingRows > 0 || c.degradedRows > 0 }

// fleet is the in-memory agent table. Besides the records by id it keeps two orders up to
// date on every change, so that rendering only reads the first rows of each:
// stale (oldest heartbeat first, agents that never sent one before all others) and bad
// (agents with failing or degraded health rows, worst first). An update costs a binary
// search and a copy of at most n pointers; a full snapshot costs one sort.
type fleet struct {
	byID  map[uuid.UUID]*client.FleetAgentRecord
	stale []*client.FleetAgentRecord
	bad   []*client.FleetAgentRecord
	n     counts
	// lastEvent is the newest last_event_at of any agent: when it moves past the newest
	// event on screen, the events are fetched again.
	lastEvent time.Time
}

func newFleet() fleet {
	return fleet{byID: map[uuid.UUID]*client.FleetAgentRecord{}}
}

// staleBefore orders agents by heartbeat, oldest first and never-seen before all; ties by
// name, then id, so that every agent has one place.
func staleBefore(a, b *client.FleetAgentRecord) int {
	switch {
	case a.LastHeartbeat == nil && b.LastHeartbeat != nil:
		return -1
	case a.LastHeartbeat != nil && b.LastHeartbeat == nil:
		return 1
	case a.LastHeartbeat != nil:
		if c := a.LastHeartbeat.Compare(*b.LastHeartbeat); c != 0 {
			return c
		}
	}
	return byName(a, b)
}

// worseBefore orders agents by failing rows, then degraded rows, most first.
func worseBefore(a, b *client.FleetAgentRecord) int {
	if a.HealthFailing != b.HealthFailing {
		if a.HealthFailing > b.HealthFailing {
			return -1
		}
		return 1
	}
	if a.HealthDegraded != b.HealthDegraded {
		if a.HealthDegraded > b.HealthDegraded {
			return -1
		}
		return 1
	}
	return byName(a, b)
}

func byName(a, b *client.FleetAgentRecord) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return bytes.Compare(a.AgentID[:], b.AgentID[:])
}

func isBad(r *client.FleetAgentRecord) bool { return r.HealthFailing > 0 || r.HealthDegraded > 0 }

// insertSorted puts r at its place in s.
func insertSorted(s []*client.FleetAgentRecord, r *client.FleetAgentRecord, cmp func(a, b *client.FleetAgentRecord) int) []*client.FleetAgentRecord {
	i, _ := slices.BinarySearchFunc(s, r, cmp)
	return slices.Insert(s, i, r)
}

// removeSorted takes r out of s; r must still hold the values it was inserted with.
func removeSorted(s []*client.FleetAgentRecord, r *client.FleetAgentRecord, cmp func(a, b *client.FleetAgentRecord) int) []*client.FleetAgentRecord {
	if i, ok := slices.BinarySearchFunc(s, r, cmp); ok && s[i] == r {
		return slices.Delete(s, i, i+1)
	}
	if i := slices.Index(s, r); i >= 0 { // not where its key says: never expected
		return slices.Delete(s, i, i+1)
	}
	return s
}

// upsert applies one agent's record, from a live frame or a poll.
func (f *fleet) upsert(rec client.FleetAgentRecord) {
	p, ok := f.byID[rec.AgentID]
	if ok {
		f.n.add(p, -1)
		f.stale = removeSorted(f.stale, p, staleBefore)
		if isBad(p) {
			f.bad = removeSorted(f.bad, p, worseBefore)
		}
		*p = rec
	} else {
		p = &rec
		f.byID[rec.AgentID] = p
	}
	f.n.add(p, 1)
	f.stale = insertSorted(f.stale, p, staleBefore)
	if isBad(p) {
		f.bad = insertSorted(f.bad, p, worseBefore)
	}
	if p.LastEventAt != nil && p.LastEventAt.After(f.lastEvent) {
		f.lastEvent = *p.LastEventAt
	}
}

// replace swaps the whole table for a snapshot of the fleet; agents missing from it are
// gone (deleted).
func (f *fleet) replace(recs []client.FleetAgentRecord) {
	byID := make(map[uuid.UUID]*client.FleetAgentRecord, len(recs))
	stale := make([]*client.FleetAgentRecord, 0, len(recs))
	var bad []*client.FleetAgentRecord
	var n counts
	var last time.Time
	own := slices.Clone(recs) // live frames later change records in place
	for i := range own {
		p := &own[i]
		if old, dup := byID[p.AgentID]; dup { // a snapshot lists each agent once; be safe
			n.add(old, -1)
			*old = *p
			p = old
		} else {
			byID[p.AgentID] = p
			stale = append(stale, p)
		}
		n.add(p, 1)
		if p.LastEventAt != nil && p.LastEventAt.After(last) {
			last = *p.LastEventAt
		}
	}
	for _, p := range stale {
		if isBad(p) {
			bad = append(bad, p)
		}
	}
	slices.SortFunc(stale, staleBefore)
	slices.SortFunc(bad, worseBefore)
	f.byID, f.stale, f.bad, f.n, f.lastEvent = byID, stale, bad, n, last
}

// name returns an agent's name, or a short id for an agent not (or no longer) listed.
func (f *fleet) name(id uuid.UUID) string {
	if p, ok := f.byID[id]; ok {
		return p.Name
	}
	return ui.ShortID(id)
}
