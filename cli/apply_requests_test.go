package cli_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	internalconfig "github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server"
)

// requestLog records the requests a broker receives.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Clone(context.Background()))
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// take returns the requests recorded since the last call whose path ends in suffix.
func (l *requestLog) take(method, suffix string) []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*http.Request
	for _, r := range l.reqs {
		if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
			out = append(out, r)
		}
	}
	l.reqs = nil
	return out
}

// TestStackApplyReadsOnlyTheLatestChecksum applies to a stack with a long history: deciding
// whether the bundle changed costs one request for one row without YAML, not a download of
// every past version.
func TestStackApplyReadsOnlyTheLatestChecksum(t *testing.T) {
	ctx := context.Background()
	store, err := db.Open(ctx, dbtest.URL(t), db.Options{MaxConnections: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	adminKey, adminHash, err := pak.Generate(pak.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	bc := internalconfig.DefaultBroker()
	bc.Broker.PAKHash = adminHash
	bc.Broker.AdminKeyFile = ""
	srv, err := server.New(server.Options{Config: bc, DB: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	log := &requestLog{}
	ts := httptest.NewServer(log.wrap(srv.Handler()))
	t.Cleanup(ts.Close)
	api, err := client.New(ts.URL, client.WithPAK(adminKey))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, url: ts.URL, admin: adminKey, api: api,
		cfg: filepath.Join(t.TempDir(), "brokkr", "config.yaml"), names: map[string]string{}, offset: 2 * time.Hour}

	gen, err := api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := api.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: gen.Generator.ID})
	if err != nil {
		t.Fatal(err)
	}
	// 250 past versions of 64 KiB: more than one default page, 16 MiB in all.
	if _, err := store.ExecContext(ctx, `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum)
		SELECT $1, 'k: ' || repeat('x', 65536) || g, md5(g::text) FROM generate_series(1, 250) g`, st.ID); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{config.EnvBrokerURL: ts.URL, config.EnvPAK: gen.PAK}
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  color: green\n"
	for _, want := range []string{"updated", "unchanged"} {
		log.take("", "") // forget earlier requests
		r := e.runWith(runOpts{env: env, stdin: manifest}, "stack", "apply", "-f", "-", "--stack", "web", "-o", "json")
		if r.code != 0 || !strings.Contains(r.stdout, `"result": "`+want+`"`) {
			t.Fatalf("apply (%s): %+v", want, r)
		}
		reads := log.take(http.MethodGet, "/stacks/"+st.ID.String()+"/deployment-objects")
		if len(reads) != 1 {
			t.Fatalf("apply (%s) read the deployment objects %d times, want once", want, len(reads))
		}
		q := reads[0].URL.Query()
		if q.Get("limit") != "1" || q.Get("include_yaml") != "false" || q.Get("cursor") != "" {
			t.Fatalf("apply (%s) read the deployment objects with %q, want limit=1 and include_yaml=false", want, reads[0].URL.RawQuery)
		}
	}
	// The unchanged answer still shows the object with its content.
	r := e.runWith(runOpts{env: env, stdin: manifest}, "stack", "apply", "-f", "-", "--stack", "web", "-o", "json")
	if !strings.Contains(r.stdout, `"yaml_content": "apiVersion: v1\nkind: ConfigMap`) {
		t.Fatalf("unchanged apply output lacks the content: %s", r.stdout)
	}
}
