package config

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startWatch runs Watch in the background and returns a channel that receives one value
// per reported change.
func startWatch(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, path, func() { changes <- struct{}{} }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	// Give the watcher time to register before the test edits files.
	time.Sleep(100 * time.Millisecond)
	return changes
}

func expectChange(t *testing.T, changes <-chan struct{}, want bool) {
	t.Helper()
	wait := 3 * time.Second
	if !want {
		wait = 4 * watchDebounce
	}
	select {
	case <-changes:
		if !want {
			t.Fatal("change reported, want none")
		}
	case <-time.After(wait):
		if want {
			t.Fatal("no change reported")
		}
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broker.toml")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(path, "[log]\nlevel = \"info\"\n")
	changes := startWatch(t, path)

	write(path, "[log]\nlevel = \"debug\"\n")
	expectChange(t, changes, true)

	// Same content again, and an unrelated file: nothing to report.
	write(path, "[log]\nlevel = \"debug\"\n")
	write(filepath.Join(dir, "other.toml"), "x = 1\n")
	expectChange(t, changes, false)

	// Editors often write a new file and rename it over the old one.
	tmp := filepath.Join(dir, ".broker.toml.swp")
	write(tmp, "[log]\nlevel = \"warn\"\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes, true)

	// Removal is waited out; the file coming back with new content is a change.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes, false)
	write(path, "[log]\nlevel = \"error\"\n")
	expectChange(t, changes, true)
}

func TestWatchSymlinkSwap(t *testing.T) {
	// The layout of a Kubernetes ConfigMap volume: the file is a symlink through a "..data"
	// symlink that is replaced atomically on update.
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "..v1"), filepath.Join(dir, "..v2")
	for i, d := range []string{v1, v2} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		content := []string{"a = 1\n", "a = 2\n"}[i]
		if err := os.WriteFile(filepath.Join(d, "broker.yaml"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "broker.yaml")
	if err := os.Symlink("..data/broker.yaml", path); err != nil {
		t.Fatal(err)
	}
	changes := startWatch(t, path)

	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes, true)
}

func TestWatchMissingDirectory(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope", "broker.toml"), func() {})
	if err == nil {
		t.Fatal("Watch of a file in a missing directory succeeded")
	}
}
