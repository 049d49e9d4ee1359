package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long the file must stay quiet after a change before Watch reports it;
// editors and Kubernetes ConfigMap updates touch a file several times in a row.
const watchDebounce = 250 * time.Millisecond

// Watch calls onChange each time the content of the file at path changes, until ctx is
// done; it then returns nil. It watches the file's directory rather than the file, so it
// survives editors that replace the file and Kubernetes ConfigMap volumes that swap a
// symlink. Bursts of events are coalesced, and events that leave the content unchanged are
// not reported. A file that disappears is waited for. An error is returned only if the
// watch cannot be set up.
func Watch(ctx context.Context, path string, onChange func()) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	defer w.Close()

	dirs := map[string]bool{filepath.Dir(abs): true}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		dirs[filepath.Dir(real)] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			return fmt.Errorf("config: watch %s: %w", d, err)
		}
	}

	last := fileDigest(abs)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			// Any event in the directory may concern the file (renames, symlink swaps);
			// the digest comparison below filters out the ones that do not.
			timer.Reset(watchDebounce)
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// fsnotify reports overflows and similar transient problems here; re-check the
			// file so a lost event does not hide a change.
			timer.Reset(watchDebounce)
		case <-timer.C:
			d := fileDigest(abs)
			if d == nil || bytes.Equal(d, last) {
				continue
			}
			last = d
			onChange()
		}
	}
}

// fileDigest returns the SHA-256 of the file's content, or nil if it cannot be read.
func fileDigest(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:]
}
