package window

import (
	"strings"
	"sync"
	"time"
)

// memoEntries bounds the holds a Memo keeps; past it, it starts again empty.
const memoEntries = 4096

// Memo keeps the holds a Set computed, by second and by the windows that applied, so that the
// many agents and stacks asking in the same second share one computation. A Memo belongs to
// one Set: make a new one when the windows change. It is safe for concurrent use.
type Memo struct {
	mu sync.Mutex
	m  map[string]memoHold
}

type memoHold struct {
	held  bool
	by    *Window
	until time.Time
}

// NewMemo returns an empty memo.
func NewMemo() *Memo { return &Memo{m: map[string]memoHold{}} }

func (m *Memo) key(t time.Time, applying Set) string {
	var b strings.Builder
	b.WriteString(t.Truncate(time.Second).UTC().Format(time.RFC3339))
	for _, w := range applying {
		b.WriteByte('|')
		b.WriteString(w.ID.String())
		b.WriteString(w.Name)
	}
	return b.String()
}

func (m *Memo) get(key string) (memoHold, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.m[key]
	return h, ok
}

func (m *Memo) put(key string, h memoHold) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.m) >= memoEntries {
		clear(m.m)
	}
	m.m[key] = h
}
