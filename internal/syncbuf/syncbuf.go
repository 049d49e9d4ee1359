// Package syncbuf is a bytes buffer that a running command writes to while another goroutine
// reads what it wrote so far, as tests of long-running commands and processes do.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is safe for concurrent use. With Limit > 0 it keeps the first Limit bytes and
// discards the rest (still reporting every write as complete). The zero value is ready.
type Buffer struct {
	Limit int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 && b.b.Len()+len(p) > b.Limit {
		b.b.Write(p[:max(0, b.Limit-b.b.Len())])
		return len(p), nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
