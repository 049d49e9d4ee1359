package brokercmd_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/server/brokercmd"
)

// TestServeWithEmbeddedDatabase runs `brokkr-broker serve` as `make run` does: no database
// URL, so the broker starts its own PostgreSQL in the data directory, mints and prints an
// admin PAK that works, and on shutdown stops the database. A second start reuses the data.
func TestServeWithEmbeddedDatabase(t *testing.T) {
	d := newEmbeddedDir(t)
	dataDir, keyFile := d.dataDir, d.adminKeyFile

	run := func() (addr, key string, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		outR, outW := io.Pipe()
		cmd := brokercmd.NewCommand(outW, io.Discard)
		cmd.SetArgs([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"})
		done := make(chan error, 1)
		go func() {
			done <- cmd.ExecuteContext(ctx)
			outW.Close()
		}()
		// Output: the listening line, then either "admin PAK (shown once ...):" followed by the
		// key, or "admin PAK: minted at first start; see <file>".
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(outR)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func() string {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve exited early: %v", <-done)
				}
				return l
			case <-time.After(90 * time.Second):
				t.Fatal("serve did not start")
			}
			return ""
		}
		m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(next())
		if m == nil {
			t.Fatal("no listening line")
		}
		addr = m[1]
		if l := next(); strings.HasPrefix(l, "admin PAK (shown once") {
			key = strings.TrimSpace(next())
		} else if !strings.Contains(l, "minted at first start") {
			t.Fatalf("unexpected output %q", l)
		}
		go func() {
			for range lines {
			}
		}()
		return addr, key, func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("serve did not stop")
			}
		}
	}

	addr, key, stop := run()
	if key == "" {
		t.Fatal("no admin PAK printed on first start")
	}
	stored, err := os.ReadFile(keyFile)
	if err != nil || strings.TrimSpace(string(stored)) != key {
		t.Fatalf("key file: %q %v", stored, err)
	}
	status := func(addr, path, key string) int {
		r, _ := http.NewRequest("GET", addr+path, nil)
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := status(addr, "/api/v1/agents", key); s != 200 {
		t.Fatalf("GET /api/v1/agents with the printed PAK: %d", s)
	}
	r, _ := http.NewRequest("POST", addr+"/api/v1/generators", strings.NewReader(`{"name":"kept"}`))
	r.Header.Set("Authorization", key)
	r.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(r); err != nil || res.StatusCode != 201 {
		t.Fatalf("create generator: %v %v", res, err)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("embedded database still running after shutdown: %v", err)
	}

	// Restart: same data, same key, nothing minted.
	addr, key2, stop := run()
	defer stop()
	if key2 != "" {
		t.Fatalf("restart minted a new key %q", key2)
	}
	if s := status(addr, "/api/v1/generators", key); s != 200 {
		t.Fatalf("restart: old key refused: %d", s)
	}
}
