// Package backoff holds the agent's retry schedules. They are k8s.io/apimachinery's
// wait.Backoff; what this package adds is the jitter the agent puts on every wait, spread
// evenly around it (wait.Backoff's own jitter only lengthens a wait).
package backoff

import (
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Exponential is a schedule that starts at initial and doubles up to limit, where it stays.
// Its Step returns the waits without jitter; a copy of the schedule starts it over.
func Exponential(initial, limit time.Duration) wait.Backoff {
	return wait.Backoff{Duration: initial, Factor: 2, Cap: limit, Steps: math.MaxInt32}
}

// Spread returns d moved by up to ±fraction of it, uniformly at random, so that the waits of
// many agents (or of many requests) do not fall into lockstep. A fraction outside (0, 1)
// leaves d as it is.
func Spread(d time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || fraction >= 1 {
		return d
	}
	low := time.Duration(float64(d) * (1 - fraction))
	return wait.Jitter(low, 2*fraction/(1-fraction))
}
