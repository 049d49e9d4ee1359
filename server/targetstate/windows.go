package targetstate

import (
	"context"

	"github.com/brokkr/brokkr/internal/window"
)

// WindowReader reads every apply window.
type WindowReader func(ctx context.Context) (window.Set, error)

// Windows returns the apply windows: kept until they change (the database announces it),
// read again after. While the cache is not active they are read every time.
func (c *Cache) Windows(ctx context.Context, read WindowReader) (Windows, error) {
	if !c.Active() {
		set, err := read(ctx)
		return Windows{Set: set, Memo: window.NewMemo()}, err
	}
	c.mu.Lock()
	if c.windowsKept {
		w := c.windows
		c.mu.Unlock()
		return w, nil
	}
	c.mu.Unlock()
	t := c.Begin()
	set, err := read(ctx)
	if err != nil {
		return Windows{}, err
	}
	w := Windows{Set: set, Memo: window.NewMemo()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.changedSince(t, func(change) bool { return false }) { // windows change as 'g'
		c.windows, c.windowsKept = w, true
	}
	return w, nil
}
