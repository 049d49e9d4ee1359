package targetstate

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unique"

	"github.com/google/uuid"
)

func activeCache() *Cache {
	return New(Options{Schema: "public", MaxEntries: 100, Listening: func() bool { return true }})
}

// TestViewsShareReads has many requests for a stack's view share one read, and a
// request that comes after a change of the stack not join a read that began before it.
func TestViewsShareReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := activeCache()
		stack := uuid.New()
		var reads atomic.Int32
		release := make(chan struct{})
		var seq atomic.Int64
		seq.Store(1)
		read := func(ctx context.Context, stacks []uuid.UUID) (map[uuid.UUID]View, error) {
			reads.Add(1)
			n := seq.Load() // the object as it is when the read begins
			<-release
			return map[uuid.UUID]View{stack: {{Object: Object{JSON: unique.Make("{}"), Seq: n}}}}, nil
		}

		var wg sync.WaitGroup
		results := make([]int64, 20)
		for i := range 20 {
			wg.Go(func() {
				got, err := c.Views(context.Background(), []uuid.UUID{stack}, read)
				if err != nil {
					t.Error(err)
				}
				results[i] = got[stack][0].Seq
			})
		}
		synctest.Wait() // every request waits: one in the read, the others for it
		if n := reads.Load(); n != 1 {
			t.Fatalf("%d reads for 20 concurrent requests, want 1", n)
		}
		// A new object lands while that read is under way; a request after it must read again.
		seq.Store(2)
		c.InvalidateStack(stack)
		late := make(chan int64, 1)
		go func() {
			got, _ := c.Views(context.Background(), []uuid.UUID{stack}, read)
			late <- got[stack][0].Seq
		}()
		synctest.Wait()
		if n := reads.Load(); n != 2 {
			t.Fatalf("%d reads, want 2: the request after the change joined the read from before it", n)
		}
		close(release)
		wg.Wait()
		if got := <-late; got != 2 {
			t.Fatalf("a request after the change got sequence %d, want 2", got)
		}
		for i, r := range results {
			if r != 1 {
				t.Fatalf("request %d got sequence %d from the shared read, want 1", i, r)
			}
		}
		// The read that began before the change is not kept; the one after is.
		got, err := c.Views(context.Background(), []uuid.UUID{stack}, func(context.Context, []uuid.UUID) (map[uuid.UUID]View, error) {
			t.Fatal("read again although the view is kept")
			return nil, nil
		})
		if err != nil || len(got[stack]) != 1 || got[stack][0].Seq != 2 {
			t.Fatalf("kept view %+v, %v; want sequence 2", got[stack], err)
		}
	})
}

// TestComposedAnswerMatchesQueryOrder composes answers newest sequence first and leaves out
// stacks without an object.
func TestComposedAnswerMatchesQueryOrder(t *testing.T) {
	a, b, empty := uuid.New(), uuid.New(), uuid.New()
	views := map[uuid.UUID]View{a: {{Object: Object{JSON: unique.Make(`{"n":1}`), Seq: 1}}}, b: {{Object: Object{JSON: unique.Make(`{"n":7}`), Seq: 7}}}}
	stacks := []uuid.UUID{a, b, empty}
	ans := ComposedAnswer(stacks, Compose(uuid.New(), stacks, views, Windows{}, nil, time.Now()))
	var sb stringsWriter
	if _, err := ans.WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	if want := `[{"n":7},{"n":1}]`; sb.s != want {
		t.Fatalf("body %s, want %s", sb.s, want)
	}
	if !ans.concerns(empty) || !ans.concerns(a) || ans.concerns(uuid.New()) {
		t.Fatal("the answer must concern every associated stack, with an object or not, and no other")
	}
}

type stringsWriter struct{ s string }

func (w *stringsWriter) Write(p []byte) (int, error) { w.s += string(p); return len(p), nil }
