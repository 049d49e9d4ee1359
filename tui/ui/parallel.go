package ui

import "sync"

// ForEach runs fn over n items, at most limit at a time, and returns when all are done:
// the requests of one command that do not depend on each other.
func ForEach(n, limit int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(limit, 1))
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
