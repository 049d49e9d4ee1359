package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
)

// TestWindowCommands creates, lists, shows and deletes apply windows from brokkrctl against a
// real broker, and shows an agent held back by a window until an urgent apply passes through
// it.
func TestWindowCommands(t *testing.T) {
	// Monday 10:00 UTC: inside the weekday 09:00-13:00 window below.
	clk := &brokerClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	e := newClockEnv(t, clk)
	ctx := context.Background()
	gen, st := e.labelledStack("web", "prod")
	edge, edgeC := e.fleetAgent(gen, "edge", "prod")

	r := e.run(false, "window", "create", "office", "--kind", "deny", "--schedule", "0 9 * * 1-5", "--duration", "4h",
		"--label", "prod", "--stack", "web", "--description", "office hours")
	if r.code != 0 || !strings.Contains(r.stderr, "Created apply window office (deny, open now)") {
		t.Fatalf("create office: %+v", r)
	}
	nightly := decode[client.ApplyWindow](t, e.run(false, "window", "create", "--name", "nightly", "--kind", "allow",
		"--schedule", "@daily", "--duration", "4h", "--time-zone", "Europe/Oslo", "--annotation", "region=eu", "-o", "json"))
	e.name(nightly.ID, "window-nightly")
	windows, err := e.api.ApplyWindows().List(ctx)
	if err != nil || len(windows) != 2 {
		t.Fatalf("windows %+v, %v", windows, err)
	}
	office := windows[1]
	e.name(office.ID, "window-office")
	if office.Name != "office" || office.Kind != client.WindowDeny || !office.Open || len(office.StackIDs) != 1 || office.StackIDs[0] != st.ID ||
		len(office.Selector.Labels) != 1 || office.Selector.Labels[0] != "prod" || office.Description != "office hours" {
		t.Fatalf("office window %+v", office)
	}
	if nightly.TimeZone != "Europe/Oslo" || nightly.Kind != client.WindowAllow || nightly.Selector.Annotations["region"] != "eu" || nightly.Open {
		t.Fatalf("nightly window %+v", nightly)
	}
	if r := e.run(false, "window", "create", "office", "--kind", "allow", "--schedule", "@daily", "--duration", "1h"); r.code != 1 {
		t.Fatalf("duplicate name: %+v", r)
	}
	if r := e.run(false, "window", "create", "bad", "--kind", "allow", "--schedule", "every day", "--duration", "1h"); r.code != 1 ||
		!strings.Contains(r.stderr, "invalid_apply_window") {
		t.Fatalf("bad schedule: %+v", r)
	}
	e.golden("window_list_tty", e.run(true, "window", "list"))
	e.golden("window_list_notty", e.run(false, "windows", "list", "-o", "wide"))
	e.golden("window_get_yaml", e.run(false, "window", "get", "office", "-o", "yaml"))
	if r := e.run(false, "window", "get", nightly.ID.String(), "-o", "name"); r.code != 0 || r.stdout != "window/nightly\n" {
		t.Fatalf("get by id: %+v", r)
	}

	// The agent applied v1; v2 is held back while the deny window is open.
	v1, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, configMap("blue"), false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(v1.ID, "object-1")
	deployed(t, edgeC, edge.ID, v1.ID)
	v2, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, configMap("green"), false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(v2.ID, "object-2")
	e.golden("stack_holds_window_tty", e.run(true, "stack", "holds", "web"))
	holds := decode[[]client.Hold](t, e.run(false, "agent", "holds", edge.ID.String(), "-o", "json"))
	closes := time.Date(2026, 1, 5, 13, 0, 0, 0, time.UTC)
	if len(holds) != 1 || holds[0].Reason != client.HoldWindow || holds[0].WindowName != "office" || holds[0].DeploymentObjectID != v2.ID ||
		holds[0].ServingObjectID == nil || *holds[0].ServingObjectID != v1.ID || holds[0].Until == nil || !holds[0].Until.Equal(closes) {
		t.Fatalf("agent holds: %+v", holds)
	}

	// An urgent apply passes through the window.
	env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
	r = e.runWith(runOpts{env: env, stdin: configMap("green")}, "stack", "apply", "-f", "-", "--stack", "web", "--generator", "ci", "--urgent")
	if r.code != 0 || r.stdout != "updated\n" || !strings.Contains(r.stderr, ", urgent)") {
		t.Fatalf("urgent apply of the held content: %+v", r)
	}
	latest, err := e.api.Stacks().LatestDeploymentObject(ctx, st.ID, false)
	if err != nil || latest == nil || !latest.Urgent || latest.ID == v2.ID || latest.YAMLChecksum != v2.YAMLChecksum {
		t.Fatalf("latest after the urgent apply: %+v, %v", latest, err)
	}
	if hs, err := e.api.Stacks().Holds(ctx, st.ID); err != nil || len(hs) != 0 {
		t.Fatalf("holds after the urgent apply: %+v, %v", hs, err)
	}
	r = e.runWith(runOpts{env: env, stdin: configMap("green")}, "stack", "apply", "-f", "-", "--stack", "web", "--generator", "ci", "--urgent")
	if r.code != 0 || r.stdout != "unchanged\n" {
		t.Fatalf("urgent apply of urgent content: %+v", r)
	}

	if r := e.run(false, "window", "delete", "office"); r.code != cmdutil.ExitUsage {
		t.Fatalf("delete without --yes: %+v", r)
	}
	if r := e.run(false, "window", "delete", "office", "--yes"); r.code != 0 || !strings.Contains(r.stderr, "Deleted apply window office") {
		t.Fatalf("delete: %+v", r)
	}
	if _, err := e.api.ApplyWindows().Get(ctx, office.ID); !client.IsNotFound(err) {
		t.Fatalf("window after delete: %v", err)
	}
	if r := e.run(false, "window", "get", "office"); r.code != 1 || !strings.Contains(r.stderr, `apply window "office" not found`) {
		t.Fatalf("get of a deleted window: %+v", r)
	}
}

// TestTemplateInstantiateUrgent renders a template into an urgent object.
func TestTemplateInstantiateUrgent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.labelledStack("web", "prod")
	if _, err := e.api.Templates().Create(ctx, client.CreateTemplateRequest{Name: "cm", ParametersSchema: "{}",
		TemplateContent: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {{ color }}\n"}); err != nil {
		t.Fatal(err)
	}
	for _, urgent := range []bool{false, true} {
		args := []string{"template", "instantiate", "cm", "--stack", "web", "--set", "color=red", "-o", "json"}
		if urgent {
			args = append(args, "--urgent")
		}
		obj := decode[client.DeploymentObject](t, e.run(false, args...))
		stored, err := e.api.DeploymentObjects().Get(ctx, obj.ID)
		if err != nil || stored.Urgent != urgent || obj.Urgent != urgent {
			t.Fatalf("--urgent %v: object %+v, stored %+v, %v", urgent, obj, stored, err)
		}
	}
}
