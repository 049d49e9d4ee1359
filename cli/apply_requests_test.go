package cli_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/client"
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
	log := &requestLog{}
	e, store := newEnvWith(t, log.wrap)
	api := e.api

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

	env := map[string]string{config.EnvBrokerURL: e.url, config.EnvPAK: gen.PAK}
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
