package brokercmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/brokercmd"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// pakOutput is the JSON of generate-pak and rotate-pak.
type pakOutput struct {
	PAK     string `json:"pak"`
	PAKHash string `json:"pak_hash"`
	KeyFile string `json:"key_file"`
	Warning string `json:"warning"`
}

// runBroker runs brokkr-broker with args and returns its output.
func runBroker(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := brokercmd.NewCommand(&out, &errOut)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("brokkr-broker %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String()
}

// isolate points the broker's configuration at nothing of this machine's.
func isolate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BROKKR_CONFIG_FILE", "")
	t.Setenv("BROKKR__DATABASE__DATA_DIR", filepath.Join(dir, "pg"))
	t.Setenv("BROKKR__BROKER__ADMIN_KEY_FILE", "")
	t.Setenv("BROKKR__BROKER__PAK_HASH", "")
}

func TestGeneratePAK(t *testing.T) {
	isolate(t)
	t.Setenv("BROKKR__PAK__PREFIX", "acme")

	out, _ := runBroker(t, "admin", "generate-pak", "-o", "json")
	var got pakOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if h, err := pak.Hash(got.PAK); err != nil || h != got.PAKHash || !pak.ValidHash(h) {
		t.Fatalf("pak_hash %q is not the hash of %q (%q, %v)", got.PAKHash, got.PAK, h, err)
	}
	if !strings.HasPrefix(got.PAK, "acme_BR") {
		t.Errorf("the key %q ignores the configured [pak] prefix", got.PAK)
	}

	out, _ = runBroker(t, "admin", "generate-pak")
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		fields[k] = v
	}
	if h, err := pak.Hash(fields["pak"]); err != nil || h != fields["pak_hash"] || fields["pak"] == got.PAK {
		t.Fatalf("text output %q: hash %q (%v)", out, h, err)
	}
}

// TestRotatePAKAgainstRunningBroker rotates the admin key in the database of a running
// broker: the broker refuses the old key promptly (it had it cached, for a minute), the new
// key works, the key file is replaced with mode 0600 and the rotation is audited. With a
// configured broker.pak_hash the command warns that the next start restores it.
func TestRotatePAKAgainstRunningBroker(t *testing.T) {
	isolate(t)
	b := servertest.New(t, servertest.Options{Background: true})
	ctx := context.Background()
	if _, err := b.Admin.Auth().Verify(ctx); err != nil { // cached by the broker now
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "keys", "admin-pak")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(b.AdminPAK+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROKKR__DATABASE__URL", b.Store.URL())
	t.Setenv("BROKKR__BROKER__ADMIN_KEY_FILE", keyFile)

	out, stderr := runBroker(t, "admin", "rotate-pak", "-o", "json")
	var got pakOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if h, err := pak.Hash(got.PAK); err != nil || h != got.PAKHash || got.PAK == b.AdminPAK {
		t.Fatalf("rotate-pak answered %+v (hash %q, %v)", got, h, err)
	}
	if got.Warning != "" || strings.Contains(stderr, "warning") {
		t.Errorf("warning without broker.pak_hash: %q / %q", got.Warning, stderr)
	}

	refusedWithin5s(t, b.Admin)
	fresh, err := client.New(b.URL, client.WithPAK(got.PAK))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := fresh.Auth().Verify(ctx); err != nil || !id.Admin {
		t.Fatalf("the new key: %+v, %v", id, err)
	}

	if got.KeyFile != keyFile {
		t.Errorf("key_file %q, want %q", got.KeyFile, keyFile)
	}
	data, err := os.ReadFile(keyFile)
	if err != nil || string(data) != got.PAK+"\n" {
		t.Fatalf("key file holds %q (%v)", data, err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(keyFile), ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	var audited int
	if err := b.Store.Get(&audited, `SELECT count(*) FROM audit_logs WHERE action = 'pak.rotated'
		AND resource_type = 'pak' AND actor_type = 'system' AND details->>'role' = 'admin'`); err != nil || audited != 1 {
		t.Errorf("audit rows of the rotation: %d (%v)", audited, err)
	}

	// A configured broker.pak_hash wins at the next start: warned, with the hash to set. With a
	// database elsewhere and the default admin_key_file, no file is written.
	t.Setenv("BROKKR__BROKER__PAK_HASH", got.PAKHash)
	t.Setenv("BROKKR__BROKER__ADMIN_KEY_FILE", "")
	out, stderr = runBroker(t, "admin", "rotate-pak")
	if !strings.Contains(stderr, "warning: broker.pak_hash") {
		t.Errorf("no warning about broker.pak_hash on stderr: %q", stderr)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		fields[k] = v
	}
	if fields["pak_hash"] == "" || !strings.Contains(stderr, fields["pak_hash"]) {
		t.Errorf("the warning does not name the new hash %q: %q", fields["pak_hash"], stderr)
	}
	if data, _ := os.ReadFile(keyFile); string(data) != got.PAK+"\n" {
		t.Errorf("the key file was rewritten although admin_key_file is the default: %q", data)
	}
	refusedWithin5s(t, fresh)
}

// refusedWithin5s waits until the broker refuses c's key, for at most 5 seconds.
func refusedWithin5s(t *testing.T, c *client.Client) {
	t.Helper()
	for began := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		_, err := c.Auth().Verify(context.Background())
		if client.IsUnauthorized(err) {
			return
		}
		if time.Since(began) > 5*time.Second {
			t.Fatalf("the running broker still accepts a replaced admin key after 5 s: %v", err)
		}
	}
}
