package window

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// fuzzZones are the time zones the fuzz target picks from; invariant marks those whose clocks
// move by whole hours, where robfig/cron's firings do not depend on where a search starts.
var fuzzZones = []struct {
	name      string
	invariant bool
}{
	{"", true}, {"UTC", true}, {"Europe/Berlin", true}, {"America/New_York", true}, {"America/Sao_Paulo", true},
	{"Asia/Kolkata", true}, {"Australia/Lord_Howe", false}, {"Mars/Olympus", false}, {"Local", false},
	{"../etc/passwd", false},
}

// FuzzWindow feeds arbitrary schedules, durations, zones and instants to New, OpenAt, Hold
// and NextChange: nothing panics, New refuses with an *Error naming a field, and the answers
// hold together: the next change is after t and within the horizon, the window is open (or
// closed) until then and closed (or open) at that instant.
func FuzzWindow(f *testing.F) {
	for _, s := range []struct {
		schedule string
		seconds  int64
		zone     uint8
		deny     bool
		unix     int64
		label    string
	}{
		{"0 9 * * 1-5", 4 * 3600, 2, false, 1_750_000_000, "env:prod"},
		{"30 2 * * *", 3600, 2, true, 1_761_438_600, ""},
		{"* * * * *", 60, 3, true, 1_741_500_000, "a"},
		{"*/30 * * * *", 1800, 4, true, 1_540_000_000, ""},
		{"@daily", 7 * 24 * 3600, 5, false, 1, ""},
		{"0 0 29 2 *", 3600, 1, true, 1_709_164_800, ""},
		{"* * * 1-11 *", 60, 0, true, 1_735_689_600, ""},
		{"@every 1h", 3600, 0, true, 0, ""},
		{"TZ=", 3600, 6, true, 0, " "},
		{"CRON_TZ=Europe/Berlin", 60, 7, false, 0, ""},
		{"0-", -5, 8, false, -1, ""},
		{"*/0 * * * *", 1, 9, true, 1 << 40, ""},
		{"59 23 31 12 7", 86400, 3, false, 1_700_000_000, ""},
	} {
		f.Add(s.schedule, s.seconds, s.zone, s.deny, s.unix, s.label)
	}
	f.Fuzz(func(t *testing.T, schedule string, seconds int64, zone uint8, deny bool, unix int64, label string) {
		z := fuzzZones[int(zone)%len(fuzzZones)]
		kind := Allow
		if deny {
			kind = Deny
		}
		var sel Selector
		if label != "" {
			sel.Labels = []string{label}
		}
		w, err := New(uuid.Nil, "fuzz", schedule, time.Duration(seconds)*time.Second, z.name, kind, sel, []uuid.UUID{stackA})
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || we.Field == "" || w != nil {
				t.Fatalf("New(%q, %ds, %q) = %v, %v", schedule, seconds, z.name, w, err)
			}
			return
		}
		// Instants from 1970 to about 2286.
		at := time.Unix(unix%10_000_000_000, 0).UTC()
		if at.Unix() < 0 {
			at = time.Unix(-at.Unix(), 0).UTC()
		}
		open, next := w.OpenAt(at)
		if !next.IsZero() && (!next.After(at) || next.After(at.Add(Horizon))) {
			t.Fatalf("OpenAt(%v) = %v, %v: next not within (t, t+horizon]", at, open, next)
		}
		if z.invariant && !next.IsZero() {
			if o, _ := w.OpenAt(next.Add(-time.Nanosecond)); o != open {
				t.Fatalf("OpenAt(%v) = %v until %v, but OpenAt just before = %v", at, open, next, o)
			}
			if o, _ := w.OpenAt(next); o == open {
				t.Fatalf("OpenAt(%v) = %v until %v, but OpenAt then = %v", at, open, next, o)
			}
		}
		other := mustNew(t, "other", "0 12 * * *", time.Hour, "", Deny, Selector{})
		set := Set{w, other}
		if n := set.NextChange(at); !n.IsZero() && !n.After(at) {
			t.Fatalf("NextChange(%v) = %v", at, n)
		}
		held, by, until := set.Hold(at, sel.Labels, nil, stackA)
		if held != (by != nil) || (!held && !until.IsZero()) || (!until.IsZero() && !until.After(at)) {
			t.Fatalf("Hold(%v) = %v, %v, %v", at, held, by, until)
		}
		if z.invariant && held && !until.IsZero() {
			if h, _, _ := set.Hold(until, sel.Labels, nil, stackA); h {
				t.Fatalf("Hold(%v) ends at %v, but Hold then holds", at, until)
			}
		}
	})
}
