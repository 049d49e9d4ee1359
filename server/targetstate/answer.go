package targetstate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Answer is one target-state response body and its entity tag. The JSON of each deployment
// object is interned: agents that receive the same object share one copy of it.
type Answer struct {
	ETag    string // strong, quoted
	objects []unique.Handle[string]
	stacks  []uuid.UUID // the stacks associated with the agent when it was read, sorted
	size    int

	// Holds are the stacks' newest objects not served, and why.
	Holds []Hold
	// Expires is when the answer stops being true without a change in the database (an
	// apply window opening or closing); zero: never.
	Expires time.Time
}

// NewAnswer builds the answer whose body is the JSON array of objects (each one encoded
// JSON value), for an agent associated with stacks.
func NewAnswer(objects [][]byte, stacks []uuid.UUID) *Answer {
	a := &Answer{objects: make([]unique.Handle[string], len(objects)), size: 2}
	h := sha256.New()
	h.Write([]byte{'['})
	for i, o := range objects {
		if i > 0 {
			h.Write([]byte{','})
			a.size++
		}
		h.Write(o)
		a.size += len(o)
		a.objects[i] = unique.Make(string(o))
	}
	h.Write([]byte{']'})
	a.ETag = `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	a.stacks = slices.Clone(stacks)
	slices.SortFunc(a.stacks, compareIDs)
	return a
}

// Size returns the length of the body in bytes.
func (a *Answer) Size() int { return a.size }

// WriteTo writes the body.
func (a *Answer) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 0, a.size)
	buf = append(buf, '[')
	for i, o := range a.objects {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, o.Value()...)
	}
	buf = append(buf, ']')
	n, err := w.Write(buf)
	return int64(n), err
}

// concerns reports whether the answer's agent was associated with the stack.
func (a *Answer) concerns(stack uuid.UUID) bool {
	_, found := slices.BinarySearchFunc(a.stacks, stack, compareIDs)
	return found
}

func compareIDs(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) }

// Matches reports whether an If-None-Match header names etag (weak comparison, as RFC 9110
// prescribes for If-None-Match; "*" matches any current answer).
func Matches(ifNoneMatch, etag string) bool {
	for ifNoneMatch != "" {
		var tag string
		tag, ifNoneMatch, _ = strings.Cut(ifNoneMatch, ",")
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

type metrics struct {
	lookups       *prometheus.CounterVec
	invalidations *prometheus.CounterVec
	notModified   prometheus.Counter
	syncSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, c *Cache) *metrics {
	m := &metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_target_state_cache_lookups_total",
			Help: "Target-state requests by what the in-memory answers gave: hit, miss, or bypass (cache off or the notification listener down).",
		}, []string{"result"}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_target_state_cache_invalidations_total",
			Help: "Changes that dropped kept target-state answers, by scope: agent, stack or all.",
		}, []string{"scope"}),
		notModified: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_target_state_not_modified_total",
			Help: "Target-state requests answered 304 Not Modified (If-None-Match matched).",
		}),
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "brokkr_target_state_cache_sync_seconds",
			Help:    "Time writes waited for this replica to apply their own change notifications.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2},
		}),
	}
	for _, r := range []string{"hit", "miss", "bypass"} {
		m.lookups.WithLabelValues(r)
	}
	for _, k := range []byte{'a', 's', 'g'} {
		m.invalidations.WithLabelValues(kindName(k))
	}
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "brokkr_target_state_cache_entries",
		Help: "Target-state answers kept in memory.",
	}, func() float64 { return float64(c.Len()) })
	if reg != nil {
		reg.MustRegister(m.lookups, m.invalidations, m.notModified, m.syncSeconds, entries)
	}
	return m
}

// NotModified counts a 304 answer.
func (c *Cache) NotModified() { c.metrics.notModified.Inc() }
