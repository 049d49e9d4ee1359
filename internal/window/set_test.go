package window

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestHold(t *testing.T) {
	prod := Selector{Labels: []string{"env:prod"}}
	// Allow: weekdays 09:00–17:00 UTC. Deny: a freeze every day 12:00–13:00, and a change
	// freeze on stack A only, Fridays 10:00–14:00.
	business := mustNew(t, "business-hours", "0 9 * * 1-5", 8*time.Hour, "", Allow, prod)
	lunch := mustNew(t, "lunch", "0 12 * * *", time.Hour, "", Deny, prod)
	friday := mustNew(t, "a-friday", "0 10 * * 5", 4*time.Hour, "", Deny, Selector{}, stackA)
	set := Set{business, lunch, friday}
	labels := []string{"env:prod"}
	for _, tt := range []struct {
		name   string
		t      string
		labels []string
		stack  uuid.UUID
		held   bool
		by     *Window
		until  string
	}{
		{name: "inside the allow window", t: "2025-06-03 10:00", labels: labels, stack: stackB},
		{name: "before the allow window", t: "2025-06-03 08:00", labels: labels, stack: stackB,
			held: true, by: business, until: "2025-06-03 09:00"},
		{name: "over the weekend", t: "2025-06-07 10:00", labels: labels, stack: stackB,
			held: true, by: business, until: "2025-06-09 09:00"},
		{name: "deny inside allow", t: "2025-06-03 12:30", labels: labels, stack: stackB,
			held: true, by: lunch, until: "2025-06-03 13:00"},
		// Friday on stack A: both denies are open (a-friday first by name) until 14:00.
		{name: "two denies", t: "2025-06-06 12:30", labels: labels, stack: stackA,
			held: true, by: friday, until: "2025-06-06 14:00"},
		// Friday 17:30 on stack A: the allow window closed at 17:00, so it waits for Monday.
		{name: "allow reopens later", t: "2025-06-06 17:30", labels: labels, stack: stackA,
			held: true, by: business, until: "2025-06-09 09:00"},
		// Selector: an agent without the label is only concerned by the stack A freeze.
		{name: "unselected agent", t: "2025-06-03 08:00", stack: stackB},
		{name: "unselected agent, stack freeze", t: "2025-06-06 11:00", stack: stackA,
			held: true, by: friday, until: "2025-06-06 14:00"},
	} {
		held, by, until := set.Hold(utc(t, tt.t), tt.labels, nil, tt.stack)
		var want time.Time
		if tt.until != "" {
			want = utc(t, tt.until)
		}
		if held != tt.held || by != tt.by || !until.Equal(want) {
			t.Errorf("%s: Hold = %v, %v, %v; want %v, %v, %v", tt.name, held, name(by), until, tt.held, name(tt.by), want)
		}
	}
}

func TestHoldAllowStartsInsideDeny(t *testing.T) {
	// The allow window opens at 09:00 while a deny window is open until 10:00: the hold ends
	// at 10:00, not at 09:00.
	allow := mustNew(t, "allow", "0 9 * * *", 4*time.Hour, "", Allow, Selector{})
	deny := mustNew(t, "deny", "0 8 * * *", 2*time.Hour, "", Deny, Selector{})
	held, by, until := Set{deny, allow}.Hold(utc(t, "2025-06-03 07:00"), nil, nil, stackA)
	if !held || by != allow || !until.Equal(utc(t, "2025-06-03 10:00")) {
		t.Fatalf("Hold = %v, %s, %v; want held by allow until 10:00", held, name(by), until)
	}
	held, by, until = Set{deny, allow}.Hold(utc(t, "2025-06-03 08:30"), nil, nil, stackA)
	if !held || by != deny || !until.Equal(utc(t, "2025-06-03 10:00")) {
		t.Fatalf("Hold = %v, %s, %v; want held by deny until 10:00", held, name(by), until)
	}
}

func TestHoldUnknownEnd(t *testing.T) {
	// A deny window that never closes holds without an end; a set without windows never holds.
	always := mustNew(t, "always", "* * * * *", time.Minute, "", Deny, Selector{})
	held, by, until := Set{always}.Hold(utc(t, "2025-06-03 07:00"), nil, nil, stackA)
	if !held || by != always || !until.IsZero() {
		t.Fatalf("Hold = %v, %s, %v; want held by always without an end", held, name(by), until)
	}
	if held, by, _ := (Set{}).Hold(utc(t, "2025-06-03 07:00"), nil, nil, stackA); held || by != nil {
		t.Fatal("an empty set holds")
	}
}

func TestHoldPicksTheAllowWindowOpeningNext(t *testing.T) {
	early := mustNew(t, "z-early", "0 6 * * *", time.Hour, "", Allow, Selector{})
	late := mustNew(t, "a-late", "0 20 * * *", time.Hour, "", Allow, Selector{})
	_, by, until := Set{late, early}.Hold(utc(t, "2025-06-03 07:30"), nil, nil, stackA)
	if by != late || !until.Equal(utc(t, "2025-06-03 20:00")) {
		t.Fatalf("by %s until %v, want a-late until 20:00", name(by), until)
	}
	_, by, _ = Set{late, early}.Hold(utc(t, "2025-06-03 21:30"), nil, nil, stackA)
	if by != early {
		t.Fatalf("by %s, want z-early (opens at 06:00 before a-late at 20:00)", name(by))
	}
}

func TestNextChange(t *testing.T) {
	a := mustNew(t, "a", "0 9 * * *", 4*time.Hour, "", Allow, Selector{})
	b := mustNew(t, "b", "30 10 * * *", time.Hour, "", Deny, Selector{})
	set := Set{a, b}
	for _, tt := range []struct{ t, want string }{
		{"2025-06-03 08:00", "2025-06-03 09:00"},
		{"2025-06-03 09:00", "2025-06-03 10:30"},
		{"2025-06-03 10:30", "2025-06-03 11:30"},
		{"2025-06-03 11:30", "2025-06-03 13:00"},
		{"2025-06-03 13:00", "2025-06-04 09:00"},
	} {
		if got := set.NextChange(utc(t, tt.t)); !got.Equal(utc(t, tt.want)) {
			t.Errorf("NextChange(%s) = %v, want %s", tt.t, got, tt.want)
		}
	}
	always := mustNew(t, "always", "0 * * * *", 2*time.Hour, "", Deny, Selector{})
	if got := (Set{always}).NextChange(utc(t, "2025-06-03 08:00")); !got.IsZero() {
		t.Errorf("NextChange of a window that never closes = %v, want zero", got)
	}
	if got := (Set{}).NextChange(utc(t, "2025-06-03 08:00")); !got.IsZero() {
		t.Errorf("NextChange of no window = %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	w := mustNew(t, "w", "*/5 9-17 * * 1-5", 5*time.Minute, "Europe/Berlin", Deny, Selector{})
	base := utc(t, "2025-06-02 00:00")
	want := make([]bool, 200)
	for i := range want {
		want[i], _ = w.OpenAt(base.Add(time.Duration(i) * 17 * time.Minute))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range want {
				if open, _ := w.OpenAt(base.Add(time.Duration(i) * 17 * time.Minute)); open != want[i] {
					t.Errorf("instant %d: open %v, want %v", i, open, want[i])
				}
			}
		}()
	}
	wg.Wait()
}

func name(w *Window) string {
	if w == nil {
		return "<nil>"
	}
	return w.Name
}

// BenchmarkHold is one agent's question about one stack against a few windows, the spans
// already known (as for every agent after the first).
func BenchmarkHold(b *testing.B) {
	set := Set{
		mustNew(b, "business-hours", "0 9 * * 1-5", 8*time.Hour, "Europe/Berlin", Allow, Selector{Labels: []string{"env:prod"}}),
		mustNew(b, "lunch", "0 12 * * *", time.Hour, "Europe/Berlin", Deny, Selector{}),
		mustNew(b, "always", "* * * * *", time.Minute, "UTC", Deny, Selector{}, stackA),
	}
	at := time.Date(2025, 6, 3, 8, 0, 0, 0, time.UTC)
	labels := []string{"env:prod", "tier:edge"}
	for b.Loop() {
		set.Hold(at, labels, nil, stackB)
	}
}

// BenchmarkOpenAtNewWindow is the first question to a window that is open every minute of
// the year: the span's end is found day by day.
func BenchmarkOpenAtNewWindow(b *testing.B) {
	at := time.Date(2025, 6, 3, 8, 0, 0, 0, time.UTC)
	for b.Loop() {
		w, err := New(uuid.Nil, "always", "* * * * *", time.Minute, "Europe/Berlin", Deny, Selector{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		w.OpenAt(at)
	}
}
