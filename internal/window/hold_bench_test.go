package window

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkHoldNeverEnding is the worst hold to compute without a memo: an allow and two deny
// windows open at the same hours every day, so the hold never ends and the whole walk runs.
func BenchmarkHoldNeverEnding(b *testing.B) {
	var set Set
	for i, kind := range []string{Allow, Deny, Deny} {
		w, err := New(uuid.New(), fmt.Sprint("w", i), "0 8 * * *", 4*time.Hour, "Europe/Oslo", kind, Selector{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		set = append(set, w)
	}
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if held, _, until := set.Hold(at, nil, nil, uuid.Nil); !held || !until.IsZero() {
			b.Fatal("want a hold without end")
		}
	}
}
