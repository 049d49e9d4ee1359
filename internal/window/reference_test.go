package window

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// referenceOpenAt is OpenAt the slow way: every firing from before t - duration onwards, one
// after the other, without shortcuts; looking for the end of a span at most until t + ahead
// (known is false when the span goes on beyond).
func referenceOpenAt(w *Window, t time.Time, ahead time.Duration) (open bool, next time.Time, known bool) {
	f := w.sched.Next(t.Add(-w.Duration - time.Hour))
	var end time.Time // end of the span holding t, once one is found
	for !f.IsZero() {
		switch {
		case !end.IsZero() && f.After(end):
			return true, end, true
		case !end.IsZero():
			if e := f.Add(w.Duration); e.After(end) {
				end = e
			}
		case f.After(t):
			return false, f, true
		case t.Before(f.Add(w.Duration)):
			end = f.Add(w.Duration)
		}
		if !end.IsZero() && end.After(t.Add(ahead)) {
			return true, time.Time{}, false
		}
		f = w.sched.Next(f)
	}
	return !end.IsZero(), end, true
}

// TestOpenAtMatchesReference compares OpenAt with the slow walk over many schedules, zones,
// durations and instants, daylight-saving days included. (Zones whose clocks move by other
// than an hour, such as Australia/Lord_Howe, are left out: there robfig/cron may skip a
// firing of the transition day or not depending on where its search starts.)
func TestOpenAtMatchesReference(t *testing.T) {
	schedules := []string{
		"* * * * *", "*/7 * * * *", "0 * * * *", "15,45 8-18 * * 1-5", "* 9-17 * * *", "0 22 * * 1-5",
		"30 2 * * *", "0 0 1 * *", "* * * * 0,6", "*/10 0-2 * * *", "0 9 1-7 * 1", "@daily", "@hourly", "@weekly",
		"0 3 * * 0", "*/30 1-3 * * *", "59 23 * * *",
	}
	durations := []time.Duration{time.Minute, 90 * time.Second, 30 * time.Minute, 3 * time.Hour, 25 * time.Hour,
		3 * 24 * time.Hour}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Sao_Paulo"}
	// Instants near the transitions of 2025 and 2018 (Sao Paulo still had DST then), and
	// random ones.
	var instants []time.Time
	for _, s := range []string{"2025-03-09 06:00", "2025-03-30 00:00", "2025-04-06 15:00", "2025-10-26 00:00",
		"2025-11-02 05:00", "2018-11-04 02:00", "2019-02-17 01:00", "2025-06-02 12:00"} {
		base := utc(t, s)
		for h := -1; h <= 1; h++ {
			instants = append(instants, base.Add(time.Duration(h)*97*time.Minute))
		}
	}
	rng := rand.New(rand.NewPCG(18, 2025))
	for range 8 {
		instants = append(instants, time.Unix(1_700_000_000+rng.Int64N(100_000_000), 0).UTC())
	}
	checked := 0
	for _, sched := range schedules {
		for _, d := range durations {
			ahead := 26 * time.Hour
			if strings.HasPrefix(sched, "* ") {
				if d > 3*time.Hour {
					continue // the slow walk would take long through days of minutes
				}
				ahead = 6 * time.Hour
			}
			for _, tz := range zones {
				w, err := New([16]byte{}, "w", sched, d, tz, Deny, Selector{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, at := range instants {
					open, next := w.OpenAt(at)
					rOpen, rNext, known := referenceOpenAt(w, at, ahead)
					checked++
					where := fmt.Sprintf("%q for %s in %s at %s", sched, d, tz, at)
					switch {
					case open != rOpen:
						t.Fatalf("%s: open %v, reference %v", where, open, rOpen)
					case known && !next.Equal(rNext) && (!next.IsZero() || !rNext.After(at.Add(Horizon))):
						t.Fatalf("%s: next %v, reference %v", where, next, rNext)
					case !known && !next.IsZero() && !next.After(at.Add(ahead)):
						t.Fatalf("%s: closes %v, reference: not before %v", where, next, at.Add(ahead))
					}
				}
			}
		}
	}
	t.Logf("%d instants checked", checked)
}
