package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/pak"
)

// TestAdminRotatePAK rotates the admin key with brokkrctl: --save writes the new key into
// the context in use, which keeps working while the old key is refused; without a context
// --save is refused before anything changes.
func TestAdminRotatePAK(t *testing.T) {
	e := newEnv(t)
	none := runOpts{env: map[string]string{}}

	if r := e.run(false, "admin", "rotate-pak", "--save"); r.code != 2 || !strings.Contains(r.stderr, "brokkrctl login") {
		t.Fatalf("--save without a context: %+v", r)
	}
	if r := e.runWith(none, "login", "--broker-url", e.url, "--pak", e.admin, "--context", "main"); r.code != 0 {
		t.Fatalf("login: %+v", r)
	}

	r := e.runWith(none, "admin", "rotate-pak", "--save", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rotate-pak --save: %+v", r)
	}
	var res client.AdminPAKResponse
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("output %q: %v", r.stdout, err)
	}
	if h, err := pak.Hash(res.PAK); err != nil || h != res.PAKHash || res.PAK == e.admin {
		t.Fatalf("answer %+v (hash %q, %v)", res, h, err)
	}
	if !strings.Contains(r.stderr, "Saved the new admin PAK in context main") || !strings.Contains(r.stderr, "broker.pak_hash") {
		t.Errorf("stderr %q", r.stderr)
	}
	file, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := file.Lookup("main"); !ok || c.PAK != res.PAK {
		t.Fatalf("context main after --save: %+v", c)
	}
	// The saved context works; the old key does not.
	if r := e.runWith(none, "workorder", "list", "-o", "json"); r.code != 0 {
		t.Fatalf("saved context: %+v", r)
	}
	if r := e.run(false, "workorder", "list"); r.code != 4 {
		t.Fatalf("the old key still works: %+v", r)
	}

	// Without --save the key is printed once, on stdout alone, and the context is untouched.
	r = e.runWith(none, "admin", "rotate-pak")
	key := strings.TrimSpace(r.stdout)
	if r.code != 0 || key == res.PAK || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("rotate-pak: %+v", r)
	}
	if c, _ := mustLoad(t, e.cfg).Lookup("main"); c.PAK != res.PAK {
		t.Fatalf("the context changed without --save: %+v", c)
	}
}

func mustLoad(t *testing.T, path string) *config.File {
	t.Helper()
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
