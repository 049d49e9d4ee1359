package window

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	stackA = uuid.MustParse("00000000-0000-0000-0000-00000000000a")
	stackB = uuid.MustParse("00000000-0000-0000-0000-00000000000b")
)

// utc is a UTC instant written as "2006-01-02 15:04" (or with seconds).
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return v
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

func mustNew(t testing.TB, name, schedule string, d time.Duration, tz, kind string, sel Selector, stacks ...uuid.UUID) *Window {
	t.Helper()
	w, err := New(uuid.New(), name, schedule, d, tz, kind, sel, stacks)
	if err != nil {
		t.Fatalf("New(%q, %q, %s, %q): %v", name, schedule, d, tz, err)
	}
	return w
}

func TestNewValidates(t *testing.T) {
	long := strings.Repeat("x", 256)
	var manyLabels []string
	for i := range 33 {
		manyLabels = append(manyLabels, fmt.Sprint("l", i))
	}
	manyStacks := make([]uuid.UUID, 1001)
	for i := range manyStacks {
		manyStacks[i] = uuid.New()
	}
	for _, tt := range []struct {
		name, schedule string
		d              time.Duration
		tz, kind       string
		sel            Selector
		stacks         []uuid.UUID
		field, msg     string // "" field: valid
	}{
		{name: "ok", schedule: "0 9 * * 1-5", d: 4 * time.Hour, kind: Allow},
		{name: "descriptor", schedule: "@daily", d: time.Hour, tz: "Europe/Berlin", kind: Deny},
		{name: "weekly", schedule: "@weekly", d: MaxDuration, kind: Deny},
		{name: "leap day", schedule: "0 0 29 2 *", d: time.Hour, kind: Deny},
		{name: "full selector", schedule: "*/15 * * * *", d: time.Minute, kind: Allow,
			sel:    Selector{Labels: []string{"env:prod"}, Annotations: map[string]string{"zone": "eu-1", "empty": ""}},
			stacks: []uuid.UUID{stackA, stackB}},
		{name: " ", schedule: "@daily", d: time.Hour, kind: Allow, field: "name", msg: "blank"},
		{name: long, schedule: "@daily", d: time.Hour, kind: Allow, field: "name", msg: "255 bytes"},
		{name: "kind", schedule: "@daily", d: time.Hour, kind: "maybe", field: "kind", msg: `"maybe"`},
		{name: "no kind", schedule: "@daily", d: time.Hour, field: "kind"},
		{name: "zero", schedule: "@daily", kind: Allow, field: "duration", msg: "above 0"},
		{name: "negative", schedule: "@daily", d: -time.Hour, kind: Allow, field: "duration", msg: "above 0"},
		{name: "too long", schedule: "@daily", d: MaxDuration + time.Second, kind: Allow, field: "duration", msg: "31 days"},
		{name: "fraction", schedule: "@daily", d: 1500 * time.Millisecond, kind: Allow, field: "duration", msg: "whole seconds"},
		{name: "zone", schedule: "@daily", d: time.Hour, tz: "Mars/Olympus", kind: Allow, field: "time_zone", msg: "Mars/Olympus"},
		{name: "local", schedule: "@daily", d: time.Hour, tz: "Local", kind: Allow, field: "time_zone", msg: "Local"},
		{name: "blank schedule", schedule: "  ", d: time.Hour, kind: Allow, field: "schedule", msg: "blank"},
		{name: "six fields", schedule: "0 0 9 * * *", d: time.Hour, kind: Allow, field: "schedule", msg: "five fields"},
		{name: "garbage", schedule: "every day", d: time.Hour, kind: Allow, field: "schedule", msg: "not a cron schedule"},
		{name: "out of range", schedule: "61 * * * *", d: time.Hour, kind: Allow, field: "schedule"},
		{name: "every", schedule: "@every 1h", d: time.Hour, kind: Allow, field: "schedule", msg: "@every"},
		{name: "tz prefix", schedule: "TZ=UTC", d: time.Hour, kind: Allow, field: "schedule", msg: "time_zone"},
		{name: "cron tz prefix", schedule: "CRON_TZ=Europe/Berlin 0 9 * * *", d: time.Hour, kind: Allow, field: "schedule", msg: "time_zone"},
		{name: "never", schedule: "0 0 30 2 *", d: time.Hour, kind: Allow, field: "schedule", msg: "never fires"},
		{name: "descriptor typo", schedule: "@dayly", d: time.Hour, kind: Allow, field: "schedule"},
		{name: "blank label", schedule: "@daily", d: time.Hour, kind: Allow, sel: Selector{Labels: []string{""}},
			field: "selector.labels", msg: "blank"},
		{name: "spaced label", schedule: "@daily", d: time.Hour, kind: Allow, sel: Selector{Labels: []string{"a b"}},
			field: "selector.labels", msg: "whitespace"},
		{name: "long label", schedule: "@daily", d: time.Hour, kind: Allow, sel: Selector{Labels: []string{long}},
			field: "selector.labels", msg: "64 bytes"},
		{name: "blank key", schedule: "@daily", d: time.Hour, kind: Allow, sel: Selector{Annotations: map[string]string{" ": "v"}},
			field: "selector.annotations", msg: "blank"},
		{name: "long value", schedule: "@daily", d: time.Hour, kind: Allow, sel: Selector{Annotations: map[string]string{"k": long}},
			field: "selector.annotations", msg: "64 bytes"},
		{name: "nil stack", schedule: "@daily", d: time.Hour, kind: Allow, stacks: []uuid.UUID{uuid.Nil},
			field: "stack_ids", msg: "nil"},
		{name: "twice", schedule: "@daily", d: time.Hour, kind: Allow, stacks: []uuid.UUID{stackA, stackA},
			field: "stack_ids", msg: "twice"},
		{name: "many labels", schedule: "@daily", d: time.Hour, kind: Allow, sel: Selector{Labels: manyLabels},
			field: "selector", msg: "32"},
		{name: "many stacks", schedule: "@daily", d: time.Hour, kind: Allow, stacks: manyStacks,
			field: "stack_ids", msg: "1000"},
	} {
		t.Run(tt.name+tt.schedule, func(t *testing.T) {
			w, err := New(uuid.New(), tt.name, tt.schedule, tt.d, tt.tz, tt.kind, tt.sel, tt.stacks)
			if tt.field == "" {
				if err != nil || w == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var we *Error
			if !errors.As(err, &we) || w != nil {
				t.Fatalf("New = %v, %v; want an *Error", w, err)
			}
			if we.Field != tt.field || !strings.Contains(we.Message, tt.msg) {
				t.Fatalf("error %q (field %q), want field %q mentioning %q", we, we.Field, tt.field, tt.msg)
			}
		})
	}
}

func TestNewDefaultsAndCopies(t *testing.T) {
	labels := []string{"env:prod"}
	stacks := []uuid.UUID{stackA}
	w := mustNew(t, "w", "@daily", time.Hour, "", Allow, Selector{Labels: labels}, stacks...)
	if w.TimeZone != "UTC" || w.Location() != time.UTC {
		t.Fatalf("time zone %q %v, want UTC", w.TimeZone, w.Location())
	}
	labels[0], stacks[0] = "changed", stackB
	if w.Selector.Labels[0] != "env:prod" {
		t.Fatal("the window shares the caller's label slice")
	}
	if !w.Applies([]string{"env:prod"}, nil, stackA) {
		t.Fatal("the window shares the caller's stack slice")
	}
}

func TestApplies(t *testing.T) {
	sel := Selector{Labels: []string{"env:prod", "tier:edge"}, Annotations: map[string]string{"zone": "eu-1"}}
	scoped := mustNew(t, "scoped", "@daily", time.Hour, "", Deny, sel, stackA)
	all := mustNew(t, "all", "@daily", time.Hour, "", Deny, Selector{})
	prod := []string{"tier:edge", "env:prod", "extra"}
	eu := map[string]string{"zone": "eu-1", "other": "x"}
	for _, tt := range []struct {
		name   string
		w      *Window
		labels []string
		ann    map[string]string
		stack  uuid.UUID
		want   bool
	}{
		{"every label and annotation", scoped, prod, eu, stackA, true},
		{"other stack", scoped, prod, eu, stackB, false},
		{"label missing", scoped, []string{"env:prod"}, eu, stackA, false},
		{"annotation value differs", scoped, prod, map[string]string{"zone": "us-1"}, stackA, false},
		{"annotation missing", scoped, prod, nil, stackA, false},
		{"empty selector and stacks", all, nil, nil, stackB, true},
	} {
		if got := tt.w.Applies(tt.labels, tt.ann, tt.stack); got != tt.want {
			t.Errorf("%s: Applies = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// at is one expectation of OpenAt.
type at struct {
	t    string // UTC
	open bool
	next string // UTC; "" = zero
}

func checkOpenAt(t *testing.T, w *Window, cases []at) {
	t.Helper()
	for _, c := range cases {
		open, next := w.OpenAt(utc(t, c.t))
		var want time.Time
		if c.next != "" {
			want = utc(t, c.next)
		}
		if open != c.open || !next.Equal(want) {
			t.Errorf("%s: OpenAt(%s) = %v, %v; want %v, %v", w.Name, c.t, open, next, c.open, want)
		}
	}
}

func TestOpenAt(t *testing.T) {
	t.Run("daily", func(t *testing.T) {
		w := mustNew(t, "daily", "0 9 * * *", 4*time.Hour, "", Allow, Selector{})
		checkOpenAt(t, w, []at{
			{"2025-06-02 08:59:59", false, "2025-06-02 09:00"},
			{"2025-06-02 09:00", true, "2025-06-02 13:00"},
			{"2025-06-02 12:59:59", true, "2025-06-02 13:00"},
			{"2025-06-02 13:00", false, "2025-06-03 09:00"},
			{"2025-06-02 23:00", false, "2025-06-03 09:00"},
		})
	})
	t.Run("weekdays in a time zone", func(t *testing.T) {
		// 22:00 Oslo, Monday to Friday: 20:00 UTC in summer, 21:00 UTC in winter.
		w := mustNew(t, "nightly", "0 22 * * 1-5", 6*time.Hour, "Europe/Oslo", Allow, Selector{})
		checkOpenAt(t, w, []at{
			{"2025-06-06 19:00", false, "2025-06-06 20:00"}, // Friday
			{"2025-06-07 01:59", true, "2025-06-07 02:00"},  // Saturday morning, Friday's opening
			{"2025-06-07 02:00", false, "2025-06-09 20:00"}, // closed over the weekend
			{"2025-01-10 20:30", false, "2025-01-10 21:00"}, // winter
			{"2025-01-10 21:30", true, "2025-01-11 03:00"},
		})
	})
	t.Run("overlapping openings are one span", func(t *testing.T) {
		w := mustNew(t, "overlap", "0 9,10 * * *", 90*time.Minute, "", Deny, Selector{})
		checkOpenAt(t, w, []at{
			{"2025-06-02 09:30", true, "2025-06-02 11:30"},
			{"2025-06-02 10:45", true, "2025-06-02 11:30"},
			{"2025-06-02 11:30", false, "2025-06-03 09:00"},
		})
	})
	t.Run("touching openings are one span", func(t *testing.T) {
		w := mustNew(t, "touch", "0 9,10 * * *", time.Hour, "", Deny, Selector{})
		checkOpenAt(t, w, []at{
			{"2025-06-02 09:59:59", true, "2025-06-02 11:00"},
			{"2025-06-02 10:00", true, "2025-06-02 11:00"},
		})
	})
	t.Run("always open", func(t *testing.T) {
		// Every hour for 90 minutes, and every minute for a minute: never closed.
		for _, w := range []*Window{
			mustNew(t, "hourly", "0 * * * *", 90*time.Minute, "", Deny, Selector{}),
			mustNew(t, "minutely", "* * * * *", time.Minute, "America/New_York", Deny, Selector{}),
		} {
			checkOpenAt(t, w, []at{{"2025-06-02 09:30", true, ""}, {"2026-03-08 07:30", true, ""}})
		}
	})
	t.Run("every minute on weekdays", func(t *testing.T) {
		// Open from Monday 00:00 to Saturday 00:00 (Berlin): the span covers five days of
		// minute firings.
		w := mustNew(t, "weekdays", "* * * * 1-5", time.Minute, "Europe/Berlin", Deny, Selector{})
		checkOpenAt(t, w, []at{
			{"2025-06-04 12:00", true, "2025-06-06 22:00"}, // Wednesday → Saturday 00:00 CEST
			{"2025-06-07 12:00", false, "2025-06-08 22:00"},
		})
	})
	t.Run("open for more than the horizon", func(t *testing.T) {
		// Every minute from January to November: a span of 334 days, closing on 1 December.
		w := mustNew(t, "long", "* * * 1-11 *", time.Minute, "", Deny, Selector{})
		checkOpenAt(t, w, []at{
			{"2025-01-01 00:00", true, "2025-12-01 00:00"},
			{"2025-06-01 00:00", true, "2025-12-01 00:00"},
			{"2025-12-15 00:00", false, "2026-01-01 00:00"},
		})
	})
	t.Run("next opening beyond the horizon", func(t *testing.T) {
		w := mustNew(t, "leap", "0 0 29 2 *", time.Hour, "", Deny, Selector{})
		checkOpenAt(t, w, []at{
			{"2024-02-29 00:30", true, "2024-02-29 01:00"},
			{"2024-03-01 00:00", false, ""}, // 2028-02-29 is more than 400 days away
			{"2027-02-01 00:00", false, "2028-02-29 00:00"},
		})
	})
}

// TestDaylightSaving follows robfig/cron/v3 in Europe/Berlin: on the spring-forward day
// (2025-03-30, 02:00 → 03:00) 02:30 does not exist and the window does not open; on the
// fall-back day (2025-10-26, 03:00 → 02:00) 02:30 happens twice and the window opens at
// both, the two one-hour openings touching into one span of two hours.
func TestDaylightSaving(t *testing.T) {
	w := mustNew(t, "night", "30 2 * * *", time.Hour, "Europe/Berlin", Deny, Selector{})
	checkOpenAt(t, w, []at{
		{"2025-03-29 01:00", false, "2025-03-29 01:30"}, // 02:30 CET
		{"2025-03-29 01:45", true, "2025-03-29 02:30"},
		{"2025-03-29 12:00", false, "2025-03-31 00:30"}, // no opening on the 30th; 02:30 CEST on the 31st
		{"2025-03-30 00:45", false, "2025-03-31 00:30"},
		{"2025-10-25 12:00", false, "2025-10-26 00:30"}, // 02:30 CEST
		{"2025-10-26 00:45", true, "2025-10-26 02:30"},  // through 02:30 CET + 1h
		{"2025-10-26 01:45", true, "2025-10-26 02:30"},
		{"2025-10-26 02:30", false, "2025-10-27 01:30"},
	})
	// Every 30 minutes for 30 minutes: always open, across both transitions.
	always := mustNew(t, "halfhours", "*/30 * * * *", 30*time.Minute, "Europe/Berlin", Deny, Selector{})
	checkOpenAt(t, always, []at{{"2025-03-30 00:59", true, ""}, {"2025-10-26 00:59", true, ""}})
}

func TestOpenAtKeepsTheCallersLocation(t *testing.T) {
	w := mustNew(t, "daily", "0 9 * * *", time.Hour, "Asia/Tokyo", Allow, Selector{})
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	_, next := w.OpenAt(time.Date(2025, 6, 2, 12, 0, 0, 0, ny))
	if next.Location() != ny || !next.Equal(time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("next = %v, want 2025-06-03 00:00 UTC in America/New_York", next)
	}
}
