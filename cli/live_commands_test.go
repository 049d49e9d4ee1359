package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/cli"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/syncbuf"
)

// running is a brokkrctl invocation in the background.
type running struct {
	out, errOut *syncbuf.Buffer
	cancel      context.CancelFunc
	done        chan cmdutil.ExitCode
}

// start runs brokkrctl args as the admin in the background, non-TTY, until stop.
func (e *env) start(args ...string) *running {
	e.t.Helper()
	ios, _, _, _ := iostreams.Test()
	r := &running{out: &syncbuf.Buffer{}, errOut: &syncbuf.Buffer{}, done: make(chan cmdutil.ExitCode, 1)}
	ios.Out, ios.ErrOut = r.out, r.errOut
	f := cmdutil.NewFactory("test", ios)
	vars := map[string]string{config.EnvConfig: e.cfg, config.EnvBrokerURL: e.url, config.EnvPAK: e.admin}
	f.Getenv = func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- cli.Run(ctx, f, args) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

// stop cancels the command and returns its exit code.
func (r *running) stop(t *testing.T) cmdutil.ExitCode {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code // for the cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("command did not stop after cancel; stdout:\n%s\nstderr:\n%s", r.out, r.errOut)
		return 0
	}
}

// waitFor polls cond (doing poke before each try) until it holds or 15 s have passed.
func (r *running) waitFor(t *testing.T, what string, poke func(), cond func(stdout string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if poke != nil {
			poke()
		}
		if cond(r.out.String()) {
			return
		}
		select {
		case code := <-r.done:
			t.Fatalf("%s: command ended with exit %d; stdout:\n%s\nstderr:\n%s", what, code, r.out, r.errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out; stdout:\n%s\nstderr:\n%s", what, r.out, r.errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) agentClient(pak string) *client.Client {
	e.t.Helper()
	c, err := client.New(e.url, client.WithPAK(pak))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestFleetWatchPrintsJSONLines(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, agentPAK := e.agent("edge")
	ac := e.agentClient(agentPAK)
	r := e.start("fleet", "watch")
	// The subscription is made in the background: heartbeat until an update reaches it.
	r.waitFor(t, "fleet update for the agent", func() {
		if err := ac.Agents().Heartbeat(ctx, a.ID, nil); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
	}, func(out string) bool { return strings.Contains(out, a.ID.String()) })
	if code := r.stop(t); code != cmdutil.ExitOK {
		t.Fatalf("exit %d after cancel; stderr:\n%s", code, r.errOut)
	}
	lines := strings.Split(strings.TrimRight(r.out.String(), "\n"), "\n")
	sawHeartbeat := false
	for _, l := range lines {
		var rec client.FleetAgentRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q is not a fleet record: %v", l, err)
		}
		if rec.AgentID != a.ID || rec.Name != "edge" {
			t.Fatalf("unexpected record %q", l)
		}
		sawHeartbeat = sawHeartbeat || rec.LastHeartbeat != nil
	}
	if !sawHeartbeat {
		t.Fatalf("no record carries the heartbeat:\n%s", r.out)
	}
}

func TestStackTelemetryCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: gen.Generator.ID})
	if err != nil {
		t.Fatal(err)
	}
	a, agentPAK := e.agent("edge")
	if _, err := e.api.Generators().Register(ctx, gen.Generator.ID, &a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Agents().AddTarget(ctx, a.ID, st.ID); err != nil {
		t.Fatal(err)
	}
	active := "ACTIVE"
	if _, err := e.api.Agents().Update(ctx, a.ID, client.UpdateAgentRequest{Status: &active}); err != nil {
		t.Fatal(err)
	}

	t.Run("empty history", func(t *testing.T) {
		e := *e
		e.t = t
		r := e.run(true, "stack", "events", "web")
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No events found") {
			t.Fatalf("events on a TTY: %+v", r)
		}
		r = e.run(false, "stack", "logs", "web")
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("logs: %+v", r)
		}
		r = e.run(false, "stack", "events", st.ID.String(), "-o", "json")
		var h client.K8sEventHistory
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &h) != nil || len(h.Events) != 0 {
			t.Fatalf("events -o json: %+v", r)
		}
		if r := e.run(false, "stack", "logs", "nope"); r.code != 1 || !strings.Contains(r.stderr, "nope") {
			t.Fatalf("logs of a missing stack: %+v", r)
		}
	})

	t.Run("follow prints frames sent after start", func(t *testing.T) {
		e := *e
		e.t = t
		events := e.start("stack", "events", "web", "--follow", "-o", "json")
		logs := e.start("stack", "logs", "web", "-f")
		ch, err := e.agentClient(agentPAK).AgentChannel(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ch.Close() })
		// Both commands have subscribed once the replica counts two live subscribers.
		deadline := time.Now().Add(15 * time.Second)
		for {
			w, err := e.api.Admin().WSConnections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w.ConnectedAgents == 1 && w.LiveSubscribers == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscribers never appeared: %+v\nevents stderr: %s\nlogs stderr: %s", w, events.errOut, logs.errOut)
			}
			time.Sleep(50 * time.Millisecond)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		ns := "default"
		k8s, err := client.NewWSMessage(client.WSK8sEvent, client.K8sEvent{AgentID: a.ID, StackID: st.ID, ObservedAt: now,
			Reason: "BackOff", Message: "restarting", EventType: "Warning",
			InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "web-0"}})
		if err != nil {
			t.Fatal(err)
		}
		line, err := client.NewWSMessage(client.WSPodLogLine, client.PodLogLine{AgentID: a.ID, StackID: st.ID,
			Namespace: "default", Pod: "web-0", Container: "app", TS: now, Line: "listening on :8080"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Send(ctx, k8s); err != nil {
			t.Fatal(err)
		}
		if err := ch.Send(ctx, line); err != nil {
			t.Fatal(err)
		}
		logs.waitFor(t, "log line", nil, func(out string) bool {
			return strings.Contains(out, "default/web-0/app: listening on :8080\n")
		})
		events.waitFor(t, "k8s event", nil, func(out string) bool { return strings.Contains(out, "BackOff") })
		for _, r := range []*running{events, logs} {
			if code := r.stop(t); code != cmdutil.ExitOK {
				t.Fatalf("exit %d after cancel; stderr:\n%s", code, r.errOut)
			}
		}
		if got := logs.out.String(); got != "default/web-0/app: listening on :8080\n" {
			t.Fatalf("logs --follow printed the event frame too:\n%s", got)
		}
		var ev client.AgentK8sEvent
		if err := json.Unmarshal([]byte(strings.TrimSpace(events.out.String())), &ev); err != nil {
			t.Fatalf("events --follow -o json printed %q: %v", events.out, err)
		}
		if ev.Reason != "BackOff" || ev.AgentID != a.ID || ev.InvolvedObject.Name != "web-0" || !ev.ObservedAt.Equal(now) {
			t.Fatalf("followed event %+v", ev)
		}

		// The frames are stored, so the history shows them too. The harness clock runs 2 h
		// ahead, so --since 3h reaches back one real hour.
		deadline = time.Now().Add(15 * time.Second)
		for {
			r := e.run(false, "stack", "logs", "web", "--since", "3h")
			if r.code == 0 && r.stdout == "default/web-0/app: listening on :8080\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stored log line never listed: %+v", r)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r := e.run(false, "stack", "logs", "web", "--since", "1h"); r.code != 0 || r.stdout != "" {
			t.Fatalf("logs --since before the line: %+v", r)
		}
		r := e.run(false, "stack", "events", "web", "-o", "wide")
		if r.code != 0 || !strings.Contains(r.stdout, "Warning") || !strings.Contains(r.stdout, "BackOff") ||
			!strings.Contains(r.stdout, "default/Pod/web-0") || !strings.Contains(r.stdout, a.ID.String()) {
			t.Fatalf("stored event: %+v", r)
		}
	})
}

func TestWebhookTestCommand(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []string
	receiver := func(status int) *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, r.Header.Get("Authorization"))
			if !bytes.Contains(body, []byte(`"webhook.test"`)) {
				got = append(got, "unexpected body "+string(body))
			}
			mu.Unlock()
			w.WriteHeader(status)
			_, _ = w.Write([]byte("receiver says no"))
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	auth := "Bearer hook-secret"
	okHook, err := e.api.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "ok", URL: receiver(http.StatusOK).URL,
		EventTypes: []string{"agent.registered"}, AuthHeader: &auth})
	if err != nil {
		t.Fatal(err)
	}
	badHook, err := e.api.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "bad", URL: receiver(http.StatusInternalServerError).URL,
		EventTypes: []string{"agent.registered"}})
	if err != nil {
		t.Fatal(err)
	}

	r := e.run(false, "webhook", "test", okHook.ID.String())
	if r.code != 0 || !strings.Contains(r.stderr, "Test delivery answered HTTP 200") || r.stdout != "Test delivery successful\n" {
		t.Fatalf("test of a 200 receiver: %+v", r)
	}
	r = e.run(false, "webhook", "test", okHook.ID.String(), "-o", "json")
	var res client.WebhookTestResponse
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !res.Success || res.StatusCode != 200 {
		t.Fatalf("test -o json: %+v", r)
	}
	r = e.run(false, "webhook", "test", badHook.ID.String())
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "endpoint returned HTTP 500") {
		t.Fatalf("test of a 500 receiver: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != auth || got[2] != "" {
		t.Fatalf("receivers saw authorization headers %q", got)
	}
}

func TestAdminConfigReloadDisabled(t *testing.T) {
	e := newEnv(t)
	r := e.run(false, "admin", "config", "reload")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "without a reloadable configuration") || !strings.Contains(r.stderr, "config_reload_disabled") {
		t.Fatalf("reload: %+v", r)
	}
	if r := e.run(false, "admin", "config", "reload", "-o", "json"); r.code != 1 || r.stdout != "" {
		t.Fatalf("reload -o json: %+v", r)
	}
}

func TestListWatchPrintsChanges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: "first-stack", GeneratorID: gen.Generator.ID}); err != nil {
		t.Fatal(err)
	}
	e.agent("first-agent")

	agents := e.start("agent", "list", "--watch", "--interval", "100ms", "-o", "name")
	stacks := e.start("stack", "list", "-w", "--interval", "100ms")
	agents.waitFor(t, "first agent snapshot", nil, func(out string) bool { return out != "" })
	stacks.waitFor(t, "first stack snapshot", nil, func(out string) bool { return strings.Contains(out, "first-stack") })
	first := agents.out.String()
	if strings.Count(first, "\n") != 1 {
		t.Fatalf("first agent snapshot:\n%s", first)
	}
	// An unchanged list is not printed again.
	time.Sleep(350 * time.Millisecond)
	if got := agents.out.String(); got != first {
		t.Fatalf("unchanged list printed again:\n%s", got)
	}

	second, _ := e.agent("second-agent")
	if _, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: "second-stack", GeneratorID: gen.Generator.ID}); err != nil {
		t.Fatal(err)
	}
	agents.waitFor(t, "second agent", nil, func(out string) bool { return strings.Contains(out, second.ID.String()) })
	stacks.waitFor(t, "second stack", nil, func(out string) bool { return strings.Contains(out, "second-stack") })
	for _, r := range []*running{agents, stacks} {
		if code := r.stop(t); code != cmdutil.ExitOK {
			t.Fatalf("exit %d after cancel; stderr:\n%s", code, r.errOut)
		}
	}
	// The second snapshot lists both agents after the first one.
	if got := strings.TrimPrefix(agents.out.String(), first); strings.Count(got, "\n") != 2 || !strings.Contains(got, strings.TrimSpace(first)) {
		t.Fatalf("agent snapshots:\n%s", agents.out)
	}
	if out := stacks.out.String(); strings.Count(out, "first-stack") != 2 || strings.Count(out, "second-stack") != 1 {
		t.Fatalf("stack snapshots:\n%s", out)
	}
}
