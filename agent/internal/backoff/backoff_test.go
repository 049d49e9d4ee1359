package backoff

import (
	"testing"
	"time"
)

func TestExponentialDoublesToItsLimit(t *testing.T) {
	b := Exponential(time.Second, time.Minute)
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if got := b.Step(); got != w*time.Second {
			t.Fatalf("step %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
}

func TestSpreadStaysWithinItsFraction(t *testing.T) {
	const d = 10 * time.Second
	low, high := d, d
	for range 10000 {
		got := Spread(d, 0.2)
		if got < 8*time.Second || got > 12*time.Second {
			t.Fatalf("Spread(%v, 0.2) = %v, outside ±20 %%", d, got)
		}
		low, high = min(low, got), max(high, got)
	}
	if low > 8200*time.Millisecond || high < 11800*time.Millisecond {
		t.Fatalf("Spread(%v, 0.2) covers only %v..%v", d, low, high)
	}
	if got := Spread(d, 0); got != d {
		t.Fatalf("Spread(%v, 0) = %v", d, got)
	}
}
