package rollouts

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
)

// TestKicksSpaceSteps: a report steps its rollout at once; the reports within the next
// kickSpacing cost one deferred step in all; another rollout is not held up; after close no
// deferred step runs.
func TestKicksSpaceSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := kicks{last: map[uuid.UUID]time.Time{}, pending: map[uuid.UUID]bool{}}
		a, b := uuid.New(), uuid.New()
		var deferred atomic.Int32
		step := func() { deferred.Add(1) }
		if !k.admit(a, step) {
			t.Fatal("the first report must step at once")
		}
		for range 100 {
			if k.admit(a, step) {
				t.Fatal("a report within the spacing stepped at once")
			}
		}
		if !k.admit(b, step) {
			t.Fatal("another rollout waited for the first one's spacing")
		}
		time.Sleep(kickSpacing)
		synctest.Wait()
		if n := deferred.Load(); n != 1 {
			t.Fatalf("%d deferred steps for 100 reports, want 1", n)
		}
		time.Sleep(kickSpacing)
		if !k.admit(a, step) {
			t.Fatal("a report after the spacing must step at once")
		}
		k.admit(a, step) // deferred
		k.close()
		time.Sleep(2 * kickSpacing)
		synctest.Wait()
		if n := deferred.Load(); n != 1 {
			t.Fatalf("a deferred step ran after close (%d)", n)
		}
		if k.admit(b, step) {
			t.Fatal("stepped after close")
		}
	})
}
