package brokercmd_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/syncbuf"
	"github.com/brokkr/brokkr/server/brokercmd"
)

// embeddedDir is a fresh directory for an embedded broker: the database in pg/, the admin PAK
// and the webhook key beside it.
type embeddedDir struct {
	root, dataDir, adminKeyFile, keyFile string
}

// newEmbeddedDir makes the directory and points the broker's environment at it, with no
// database URL, no admin key hash and no webhook key configured, and webhook deliveries
// picked up every second.
func newEmbeddedDir(t *testing.T) embeddedDir {
	t.Helper()
	root, err := os.MkdirTemp("", "brokkr-serve-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil { // the server may run as the postgres user
		t.Fatal(err)
	}
	d := embeddedDir{root: root, dataDir: filepath.Join(root, "pg"), adminKeyFile: filepath.Join(root, "admin-pak"),
		keyFile: filepath.Join(root, "webhook-key")}
	t.Setenv("BROKKR__BROKER__ADMIN_KEY_FILE", d.adminKeyFile)
	t.Setenv("BROKKR__DATABASE__URL", "")
	t.Setenv("BROKKR__BROKER__PAK_HASH", "")
	t.Setenv("BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY", "")
	t.Setenv("BROKKR__BROKER__WEBHOOK_DELIVERY_INTERVAL_SECONDS", "1")
	return d
}

// runningBroker is a `brokkr-broker serve` started by serve.
type runningBroker struct {
	addr string
	logs *syncbuf.Buffer
	stop func()
}

var listeningLine = regexp.MustCompile(`listening on (http://\S+)`)

// start runs `brokkr-broker serve` on the directory. It returns the broker once it listens,
// or, when it exits first, the error it exited with (broker nil).
func (d embeddedDir) start(t *testing.T) (*runningBroker, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncbuf.Buffer
	cmd := brokercmd.NewCommand(&out, &logs)
	cmd.SetArgs([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", d.dataDir, "--log-format", "text"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.After(90 * time.Second)
	for {
		if m := listeningLine.FindStringSubmatch(out.String()); m != nil {
			stop := func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("serve: %v\n%s", err, logs.String())
					}
				case <-time.After(60 * time.Second):
					t.Fatal("serve did not stop")
				}
			}
			return &runningBroker{addr: m[1], logs: &logs, stop: stop}, nil
		}
		select {
		case err := <-done:
			cancel()
			if err == nil {
				t.Fatalf("serve returned without listening\n%s", logs.String())
			}
			return nil, err
		case <-deadline:
			cancel()
			t.Fatalf("serve did not start\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mustStart is start for a broker that must come up.
func (d embeddedDir) mustStart(t *testing.T) *runningBroker {
	t.Helper()
	b, err := d.start(t)
	if err != nil {
		t.Fatalf("serve exited early: %v", err)
	}
	return b
}

// admin returns a client authenticated with the admin PAK minted into the directory.
func (d embeddedDir) admin(t *testing.T, b *runningBroker) *client.Client {
	t.Helper()
	pak, err := os.ReadFile(d.adminKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(b.addr, client.WithPAK(strings.TrimSpace(string(pak))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readKeyFile returns the key file's content after checking it is a 0600 file holding a
// 32-byte key in hex.
func (d embeddedDir) readKeyFile(t *testing.T) string {
	t.Helper()
	st, err := os.Stat(d.keyFile)
	if err != nil {
		t.Fatalf("webhook key file: %v", err)
	}
	if st.Mode().Perm() != 0o600 || !st.Mode().IsRegular() {
		t.Fatalf("webhook key file mode %v, want a regular file with mode 0600", st.Mode())
	}
	data, err := os.ReadFile(d.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(data))
	if raw, err := hex.DecodeString(key); err != nil || len(raw) != 32 {
		t.Fatalf("webhook key file holds %d characters, not a 32-byte key in hex", len(key))
	}
	return string(data)
}

// fingerprint is how the broker names a key in its logs: the first 8 bytes of its SHA-256.
func fingerprint(t *testing.T, hexKey string) string {
	t.Helper()
	raw, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// TestEmbeddedWebhookKeySurvivesRestart: a broker on its embedded database without a
// configured webhook key mints one into the data directory (0600), a webhook created then
// still delivers after a restart on the same directory (its URL and auth header decrypt), and
// the key file stays the same.
func TestEmbeddedWebhookKeySurvivesRestart(t *testing.T) {
	d := newEmbeddedDir(t)
	type hit struct{ eventType, auth string }
	hits := make(chan hit, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			EventType string `json:"event_type"`
		}
		_ = json.Unmarshal(body, &ev)
		hits <- hit{eventType: ev.EventType, auth: r.Header.Get("Authorization")}
	}))
	defer receiver.Close()

	b := d.mustStart(t)
	first := d.readKeyFile(t)
	if logs := b.logs.String(); !strings.Contains(logs, "minted webhook encryption key") ||
		!strings.Contains(logs, "fingerprint="+fingerprint(t, first)) || strings.Contains(logs, strings.TrimSpace(first)) {
		t.Fatalf("first start: no minted-key line, or the running key is not the file's (or the key was logged):\n%s", logs)
	}
	ctx := context.Background()
	auth := "Bearer receiver-secret"
	if _, err := d.admin(t, b).Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "kept",
		URL: receiver.URL + "/hook", AuthHeader: &auth, EventTypes: []string{"agent.registered"}}); err != nil {
		t.Fatal(err)
	}
	b.stop()

	b = d.mustStart(t)
	defer b.stop()
	if again := d.readKeyFile(t); again != first {
		t.Fatal("the webhook key file changed at restart")
	}
	if logs := b.logs.String(); !strings.Contains(logs, "source=file") || strings.Contains(logs, "minted webhook encryption key") ||
		!strings.Contains(logs, "fingerprint="+fingerprint(t, first)) {
		t.Fatalf("restart: the key was not read from the file:\n%s", logs)
	}
	if _, err := d.admin(t, b).Agents().Create(ctx, client.CreateAgentRequest{Name: "edge-1", ClusterName: "eu-west"}); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-hits:
		if h.eventType != "agent.registered" || h.auth != auth {
			t.Fatalf("delivery: event %q, Authorization %q", h.eventType, h.auth)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the webhook created before the restart was not delivered\n%s", b.logs.String())
	}

	// A reload of the unchanged configuration keeps the file's key without calling it a change.
	if _, err := d.admin(t, b).Admin().ReloadConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if logs := b.logs.String(); strings.Contains(logs, "key=broker.webhook_encryption_key") {
		t.Fatalf("a reload reported the webhook key as changed:\n%s", logs)
	}
}

// TestConfiguredWebhookKeyWins: broker.webhook_encryption_key wins over the embedded
// database's key file, which is left as it was.
func TestConfiguredWebhookKeyWins(t *testing.T) {
	d := newEmbeddedDir(t)
	const fileKey = "1111111111111111111111111111111111111111111111111111111111111111\n"
	const configured = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	if err := os.WriteFile(d.keyFile, []byte(fileKey), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY", configured)
	b := d.mustStart(t)
	logs := b.logs.String()
	b.stop()
	if !strings.Contains(logs, "source=broker.webhook_encryption_key") || !strings.Contains(logs, "fingerprint="+fingerprint(t, configured)) ||
		strings.Contains(logs, "fingerprint="+fingerprint(t, fileKey)) || strings.Contains(logs, configured) {
		t.Fatalf("the configured key is not the one in use (or was logged):\n%s", logs)
	}
	if got := d.readKeyFile(t); got != fileKey {
		t.Fatalf("the key file was rewritten: %q", got)
	}
}

// TestBadWebhookKeyFileRefusesStart: a key file that holds no key, or cannot be read, stops
// the broker with a message naming the problem, and is left in place.
func TestBadWebhookKeyFileRefusesStart(t *testing.T) {
	d := newEmbeddedDir(t)
	const malformed = "not a key\n"
	if err := os.WriteFile(d.keyFile, []byte(malformed), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := d.start(t); b != nil {
		b.stop()
		t.Fatal("the broker started with a malformed webhook key file")
	} else if !strings.Contains(err.Error(), "webhook key file "+d.keyFile+" is malformed") ||
		!strings.Contains(err.Error(), "broker.webhook_encryption_key") {
		t.Fatalf("refusal does not name the file and the way out: %v", err)
	}
	if got, err := os.ReadFile(d.keyFile); err != nil || string(got) != malformed {
		t.Fatalf("the malformed key file was replaced: %q %v", got, err)
	}

	if err := os.Remove(d.keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d.keyFile, 0o700); err != nil { // a path that cannot be read as a file
		t.Fatal(err)
	}
	if b, err := d.start(t); b != nil {
		b.stop()
		t.Fatal("the broker started with an unreadable webhook key file")
	} else if !strings.Contains(err.Error(), "webhook key file") || !strings.Contains(err.Error(), "cannot be read") {
		t.Fatalf("refusal does not say the key file cannot be read: %v", err)
	}
}
