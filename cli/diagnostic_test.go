package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
)

func TestDiagnosticCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, agentPAK := e.agent("edge")
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	stack, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: gen.Generator.ID})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.api.Stacks().CreateDeploymentObject(ctx, stack.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(obj.ID, "object")
	agentAPI, err := client.New(e.url, client.WithPAK(agentPAK))
	if err != nil {
		t.Fatal(err)
	}

	// The agent's side: claim every pending request and submit a result.
	submit := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			pending, err := agentAPI.Diagnostics().Pending(ctx, agent.ID)
			if err != nil {
				t.Error(err)
				return
			}
			for _, p := range pending {
				if _, err := agentAPI.Diagnostics().Claim(ctx, p.ID); err != nil {
					t.Error(err)
					return
				}
				logs := `{"web-7d9/nginx":"starting\nready\n"}`
				_, err := agentAPI.Diagnostics().SubmitResult(ctx, p.ID, client.SubmitDiagnosticResult{
					PodStatuses: `[{"name":"web-7d9","namespace":"default","phase":"Running","conditions":[{"condition_type":"Ready","status":"False","reason":"ContainersNotReady","message":"containers with unready status: [nginx]"}],"containers":[{"name":"nginx","ready":false,"restart_count":3,"state":"Waiting","state_reason":"CrashLoopBackOff","state_message":"back-off 40s restarting failed container"}]}]`,
					Events:      `[{"event_type":"Warning","reason":"BackOff","message":"Back-off restarting failed container","involved_object":"web-7d9","involved_object_kind":"Pod","count":5}]`,
					LogTails:    &logs,
					CollectedAt: time.Now().UTC(),
				})
				if err != nil {
					t.Error(err)
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Error("no diagnostic request appeared")
	}

	// Without --wait: the request is printed.
	r := e.run(false, "diagnostic", "request", "--object", obj.ID.String(), "--agent", agent.ID.String(), "--requested-by", "ops", "-o", "json")
	if r.code != 0 {
		t.Fatalf("request: %+v", r)
	}
	var req client.DiagnosticRequest
	if err := json.Unmarshal([]byte(r.stdout), &req); err != nil {
		t.Fatal(err)
	}
	e.name(req.ID, "diag-1")
	e.golden("diagnostic_request_json", r)
	e.golden("diagnostic_get_pending_tty", e.run(true, "diagnostic", "get", req.ID.String()))
	submit()
	e.golden("diagnostic_get_completed_tty", e.run(true, "diag", "get", req.ID.String()))
	e.golden("diagnostic_get_completed_notty", e.run(false, "diag", "get", req.ID.String()))

	// With --wait: the agent answers while the command polls.
	done := make(chan struct{})
	go func() { defer close(done); submit() }()
	r = e.run(false, "diagnostic", "request", "--object", obj.ID.String(), "--agent", agent.ID.String(), "--wait", "--timeout", "20s", "--poll-interval", "100ms")
	<-done
	if r.code != 0 || !strings.Contains(r.stdout, "CrashLoopBackOff") || !strings.Contains(r.stdout, "==> web-7d9/nginx <==") {
		t.Fatalf("request --wait: %+v", r)
	}
	e.golden("diagnostic_request_wait_notty", r)

	// --wait gives up after --timeout.
	r = e.run(false, "diagnostic", "request", "--object", obj.ID.String(), "--agent", agent.ID.String(), "--wait", "--timeout", "300ms", "--poll-interval", "100ms")
	if r.code != 1 || !strings.Contains(r.stderr, "still pending after 300ms") {
		t.Fatalf("request --wait timeout: %+v", r)
	}
	e.golden("diagnostic_get_not_found", e.run(false, "diag", "get", "00000000-0000-0000-0000-000000000001"))
}
