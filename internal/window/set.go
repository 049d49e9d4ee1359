package window

import (
	"time"

	"github.com/google/uuid"
)

// maxHoldSteps bounds the openings and closings Hold walks through to find when a hold ends:
// enough for about two months of daily windows, allow and deny, held the whole time.
const maxHoldSteps = 256

// Set is every apply window.
type Set []*Window

// NextChange is the earliest opening or closing of any window after t; the zero time when
// none is within Horizon.
func (s Set) NextChange(t time.Time) time.Time {
	var best time.Time
	for _, w := range s {
		if _, n := w.OpenAt(t); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	return best
}

// Hold reports whether the windows hold new objects of the stack back from an agent with
// these labels and annotations at t. Of the windows applying to it (Applies), the agent is
// held while any deny window is open, or while allow windows apply and none is open. by is
// the open deny window (the first by name), else the applying allow window that opens next;
// until is the earliest time after t the hold ends (the zero time when that is not known
// within Horizon).
func (s Set) Hold(t time.Time, labels []string, annotations map[string]string, stack uuid.UUID) (held bool, by *Window, until time.Time) {
	return s.HoldWith(nil, t, labels, annotations, stack)
}

// HoldWith is Hold, answered from memo (when not nil) for the same windows applying in the
// same second: windows open and close on whole seconds, so a hold is the same for the whole
// second.
func (s Set) HoldWith(memo *Memo, t time.Time, labels []string, annotations map[string]string, stack uuid.UUID) (held bool, by *Window, until time.Time) {
	t = t.Round(0)
	var applying Set
	for _, w := range s {
		if w.Applies(labels, annotations, stack) {
			applying = append(applying, w)
		}
	}
	if len(applying) == 0 {
		return false, nil, time.Time{}
	}
	if memo == nil {
		return applying.hold(t)
	}
	key := memo.key(t, applying)
	if h, ok := memo.get(key); ok {
		return h.held, h.by, h.until.In(t.Location())
	}
	held, by, until = applying.hold(t.Truncate(time.Second))
	memo.put(key, memoHold{held: held, by: by, until: until})
	return held, by, until
}

// hold is Hold of windows that all apply.
func (s Set) hold(t time.Time) (held bool, by *Window, until time.Time) {
	applying := s
	held, by, next := applying.state(t)
	if !held {
		return false, nil, time.Time{}
	}
	limit := t.Add(Horizon)
	for i := 0; i < maxHoldSteps && !next.IsZero() && !next.After(limit); i++ {
		var h bool
		at := next
		if h, _, next = applying.state(at); !h {
			return true, by, at.In(t.Location())
		}
	}
	return true, by, time.Time{}
}

// state is whether the windows of s, all applying, hold at x, the window that holds (see
// Hold), and the earliest opening or closing after x (zero when none within Horizon).
func (s Set) state(x time.Time) (held bool, by *Window, next time.Time) {
	var deny, allow *Window
	var allowAt time.Time
	allows, allowOpen := false, false
	for _, w := range s {
		open, n := w.OpenAt(x)
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
		switch {
		case w.Kind == Deny && open:
			if deny == nil || w.Name < deny.Name {
				deny = w
			}
		case w.Kind == Allow && open:
			allows, allowOpen = true, true
		case w.Kind == Allow:
			allows = true
			if allow == nil || opensBefore(n, w.Name, allowAt, allow.Name) {
				allow, allowAt = w, n
			}
		}
	}
	switch {
	case deny != nil:
		return true, deny, next
	case allows && !allowOpen:
		return true, allow, next
	}
	return false, nil, next
}

// opensBefore orders closed allow windows by their next opening (unknown last), then name.
func opensBefore(at time.Time, name string, otherAt time.Time, other string) bool {
	switch {
	case at.IsZero() != otherAt.IsZero():
		return otherAt.IsZero()
	case !at.Equal(otherAt):
		return at.Before(otherAt)
	}
	return name < other
}
