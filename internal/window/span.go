package window

import (
	"time"

	"github.com/robfig/cron/v3"
)

// span is an open stretch of a window: every instant in [from, to) is open. When final, the
// window closes at to; otherwise it is open at least until to, and was not looked at beyond.
type span struct {
	from, to time.Time
	final    bool
}

// dayPattern is where a schedule fires within a day that matches it and has no
// daylight-saving transition: the same wall-clock minutes every such day.
type dayPattern struct {
	first, last int // minutes after midnight; first < 0: never
	// dense: consecutive firings of a day are at most the window's duration apart, so a
	// matching day is open from its first firing until its last firing plus the duration.
	dense bool
}

func newDayPattern(s *cron.SpecSchedule, d time.Duration) dayPattern {
	p := dayPattern{first: -1, last: -1}
	maxGap := 0
	for h := 0; h < 24; h++ {
		if s.Hour&(1<<uint(h)) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if s.Minute&(1<<uint(m)) == 0 {
				continue
			}
			x := h*60 + m
			if p.first < 0 {
				p.first = x
			}
			if p.last >= 0 && x-p.last > maxGap {
				maxGap = x - p.last
			}
			p.last = x
		}
	}
	// Standard schedules fire at second 0 only; anything else is left to the firing-by-firing
	// walk.
	p.dense = s.Second == 1 && time.Duration(maxGap)*time.Minute <= d
	return p
}

func (p dayPattern) empty() bool { return p.first < 0 }

// OpenAt reports whether the window is open at t. next is when it closes if it is open (the
// end of the whole open span: overlapping and touching openings count as one), and when it
// next opens if it is closed; the zero time when that is more than Horizon after t.
func (w *Window) OpenAt(t time.Time) (open bool, next time.Time) {
	t = t.Round(0) // wall clock only
	open, next = w.openAt(t, t.Add(Horizon))
	if !next.IsZero() {
		next = next.In(t.Location())
	}
	return open, next
}

func (w *Window) openAt(t, limit time.Time) (bool, time.Time) {
	c := w.spans
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.find(t)
	if i < 0 {
		// The first firing after t - duration opens the window at t if it is not after t.
		f := w.sched.Next(t.Add(-w.Duration))
		if f.IsZero() || f.After(t) {
			n := w.sched.Next(t)
			if n.IsZero() || n.After(limit) {
				return false, time.Time{}
			}
			return false, n
		}
		i = c.add(span{from: f, to: f.Add(w.Duration)})
	}
	sp := &c.spans[i]
	w.extend(sp, limit)
	if !sp.final || sp.to.After(limit) {
		return true, time.Time{}
	}
	return true, sp.to
}

// extend looks for the end of an open span until it is found or the span is known to reach
// beyond limit.
func (w *Window) extend(sp *span, limit time.Time) {
	for !sp.final && !sp.to.After(limit) {
		e := sp.to
		if end, ok := w.dayEnd(e); ok {
			sp.to = end
			continue
		}
		// The next firing after e - duration keeps the span open past e if it is not after e.
		g := w.sched.Next(e.Add(-w.Duration))
		if g.IsZero() || g.After(e) {
			sp.final = true
			return
		}
		sp.to = g.Add(w.Duration)
	}
}

// dayEnd is the shortcut through dense schedules: when e lies in the open stretch of a day
// that matches the schedule and has no daylight-saving transition (from its first firing to
// its last firing plus the duration), the end of that stretch.
func (w *Window) dayEnd(e time.Time) (time.Time, bool) {
	if !w.day.dense {
		return time.Time{}, false
	}
	l := e.In(w.loc)
	d0 := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, w.loc)
	d1 := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, w.loc)
	if d0.Hour() != 0 || d1.Sub(d0) != 24*time.Hour {
		return time.Time{}, false
	}
	first := d0.Add(time.Duration(w.day.first) * time.Minute)
	end := d0.Add(time.Duration(w.day.last)*time.Minute + w.Duration)
	if e.Before(first) || !end.After(e) || !w.sched.Next(d0.Add(-time.Second)).Equal(first) {
		return time.Time{}, false
	}
	return end, true
}

// find returns the index of the cached span holding t, or -1.
func (c *spanCache) find(t time.Time) int {
	for i := len(c.spans) - 1; i >= 0; i-- {
		s := c.spans[i]
		if !t.Before(s.from) && t.Before(s.to) {
			return i
		}
	}
	return -1
}

// add caches a span, forgetting the oldest beyond maxCachedSpans, and returns its index.
func (c *spanCache) add(s span) int {
	if len(c.spans) >= maxCachedSpans {
		c.spans = append(c.spans[:0], c.spans[1:]...)
	}
	c.spans = append(c.spans, s)
	return len(c.spans) - 1
}
