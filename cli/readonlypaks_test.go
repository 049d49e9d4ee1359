package cli_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/client"
)

// TestReadOnlyPAKCommands: pak create --read-only prints the key once, pak list --read-only
// lists names without keys, a read-only key may read but not mint keys, and pak revoke ends
// the key on the broker.
func TestReadOnlyPAKCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	if r := e.run(false, "pak", "create", "dashboards"); r.code != cmdutil.ExitUsage || !strings.Contains(r.stderr, "--read-only") {
		t.Fatalf("create without --read-only: %+v", r)
	}
	r := e.run(false, "pak", "create", "--read-only", "dashboards")
	if r.code != 0 || !regexp.MustCompile(`^brokkr_BR\S+\n$`).MatchString(r.stdout) || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("create: %+v", r)
	}
	key := strings.TrimSpace(r.stdout)
	roClient, err := client.New(e.url, client.WithPAK(key))
	if err != nil {
		t.Fatal(err)
	}
	who, err := roClient.Auth().Verify(ctx)
	if err != nil || !who.Admin || !who.ReadOnly {
		t.Fatalf("the printed key verifies as %+v, %v; want the read-only admin", who, err)
	}
	if r := e.run(false, "pak", "create", "--read-only", "dashboards"); r.code != cmdutil.ExitError || !strings.Contains(r.stderr, "unique") {
		t.Fatalf("create a taken name: %+v", r)
	}

	r = e.run(false, "pak", "list", "--read-only", "-o", "json")
	var list []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 || list[0]["name"] != "dashboards" {
		t.Fatalf("list --read-only -o json: %+v", r)
	}
	if strings.Contains(r.stdout, "brokkr_BR") || list[0]["pak"] != nil {
		t.Fatalf("list shows a key: %s", r.stdout)
	}
	if r := e.run(false, "pak", "list", "--read-only"); r.code != 0 || !strings.HasPrefix(r.stdout, "dashboards\t") {
		t.Fatalf("list --read-only: %+v", r)
	}
	if r := e.run(false, "pak", "list"); r.code != 0 || !strings.Contains(r.stdout, "admin-generator") || strings.Contains(r.stdout, "dashboards") {
		t.Fatalf("list (generators): %+v", r)
	}

	// The read-only key reads, and is refused every change with the broker's explanation.
	ro := runOpts{env: map[string]string{config.EnvBrokerURL: e.url, config.EnvPAK: key}}
	if r := e.runWith(ro, "pak", "list", "--read-only", "-o", "name"); r.code != 0 || r.stdout != "read-only-pak/dashboards\n" {
		t.Fatalf("list as the read-only key: %+v", r)
	}
	if r := e.runWith(ro, "pak", "create", "--read-only", "more"); r.code != cmdutil.ExitError ||
		!strings.Contains(r.stderr, "hint: "+cmdutil.ReadOnlyHint) {
		t.Fatalf("create as the read-only key: %+v", r)
	}

	if r := e.run(false, "pak", "revoke", "dashboards"); r.code != cmdutil.ExitUsage {
		t.Fatalf("revoke without --yes off a terminal: %+v", r)
	}
	if r := e.run(false, "pak", "revoke", "nope", "--yes"); r.code != cmdutil.ExitError || !strings.Contains(r.stderr, `read-only PAK "nope" not found`) {
		t.Fatalf("revoke an unknown name: %+v", r)
	}
	if r := e.run(false, "pak", "revoke", "dashboards", "--yes"); r.code != 0 || !strings.Contains(r.stderr, "Revoked read-only PAK dashboards") {
		t.Fatalf("revoke: %+v", r)
	}
	if _, err := roClient.Auth().Verify(ctx); !client.IsUnauthorized(err) {
		t.Fatalf("revoked key verifies: %v", err)
	}
	// By id too.
	var created client.ReadOnlyPAKCreated
	r = e.run(false, "pak", "create", "--read-only", "--name", "on-call", "-o", "json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil || created.PAK == "" || created.Name != "on-call" {
		t.Fatalf("create -o json: %+v", r)
	}
	if r := e.run(false, "pak", "revoke", created.ID.String(), "-y"); r.code != 0 {
		t.Fatalf("revoke by id: %+v", r)
	}
	if r := e.run(false, "pak", "list", "--read-only", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list after revocations: %+v", r)
	}
}
