package window

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestHoldWithMemoAgrees: answers from a memo are those Hold computes, at every instant of a
// day, including within the seconds of an opening and a closing, for selected and unselected
// agents.
func TestHoldWithMemoAgrees(t *testing.T) {
	allow, err := New(uuid.New(), "days", "0 8 * * *", 10*time.Hour, "Europe/Berlin", Allow, Selector{Labels: []string{"eu"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	deny, err := New(uuid.New(), "lunch", "30 11 * * *", 90*time.Minute, "Europe/Berlin", Deny, Selector{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, memo := Set{allow, deny}, NewMemo()
	start := time.Date(2026, 12, 7, 6, 59, 58, 0, time.UTC) // 07:59:58 in Berlin
	stack := uuid.New()
	for d := time.Duration(0); d < 26*time.Hour; d += 997 * time.Millisecond {
		at := start.Add(d)
		for _, labels := range [][]string{{"eu"}, {"us"}} {
			h1, by1, u1 := set.Hold(at, labels, nil, stack)
			h2, by2, u2 := set.HoldWith(memo, at, labels, nil, stack)
			h3, by3, u3 := set.HoldWith(memo, at, labels, nil, stack) // from the memo
			if h1 != h2 || by1 != by2 || !u1.Equal(u2) || h2 != h3 || by2 != by3 || !u2.Equal(u3) {
				t.Fatalf("at %v for %v: Hold %v %v %v, HoldWith %v %v %v then %v %v %v", at, labels, h1, by1, u1, h2, by2, u2, h3, by3, u3)
			}
		}
	}
}
