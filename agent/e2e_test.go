package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// running is an agent process under test.
type running struct {
	agent  *agent.Agent
	health string // base URL of its health server
	stop   func() error
}

func startAgent(t *testing.T, b *servertest.Broker, a servertest.Agent, cluster string, env *kubetest.Env, tweak func(*config.AgentSettings)) *running {
	t.Helper()
	cfg := config.DefaultAgent().Agent
	cfg.BrokerURL, cfg.PAK, cfg.AgentName, cfg.ClusterName = b.URL, a.PAK, a.Name, cluster
	cfg.KubeconfigPath = env.Kubeconfig
	cfg.PollingInterval, cfg.DeploymentHealthInterval, cfg.DiagnosticsInterval, cfg.WebhookInterval = 1, 1, 1, 1
	cfg.MaxRetries, cfg.ShutdownTimeout = 5, 10
	if tweak != nil {
		tweak(&cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Options{Config: cfg, HealthListener: ln, Backoff: fastBackoff, JobPollInterval: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	r := &running{agent: ag, health: "http://" + ln.Addr().String()}
	var once bool
	var runErr error
	r.stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				t.Error("agent did not stop within 20 s")
			}
		}
		return runErr
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func eventFor(t testing.TB, b *servertest.Broker, agentID, objectID uuid.UUID) *client.AgentEvent {
	for _, ev := range b.Events(t, agentID) {
		if ev.DeploymentObjectID == objectID {
			e := ev
			return &e
		}
	}
	return nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url) //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestEndToEnd runs broker, PostgreSQL, agent and kube-apiserver together.
func TestEndToEnd(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "e2e-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "edge", cluster, false)
	ns := env.Namespace(t)
	gen, err := b.Admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "self-registration"})
	if err != nil {
		t.Fatal(err)
	}
	r := startAgent(t, b, a, cluster, env, func(c *config.AgentSettings) {
		c.GeneratorIDs = []string{gen.Generator.ID.String()}
	})

	t.Run("registers with the configured generators", func(t *testing.T) {
		eventually(t, 10*time.Second, "the registration", func() bool {
			regs, err := b.Admin.Agents().Registrations(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range regs {
				if r.GeneratorID == gen.Generator.ID {
					return true
				}
			}
			return false
		})
	})

	stack := b.CreateStack(t, "web", a.ID)
	manifest := fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: %[1]s}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
`, ns)
	obj := b.Post(t, stack.ID, manifest, false)

	t.Run("an inactive agent only heartbeats", func(t *testing.T) {
		eventually(t, 10*time.Second, "a heartbeat", func() bool {
			ag, err := b.Admin.Agents().Get(ctx, a.ID)
			return err == nil && ag.LastHeartbeat != nil
		})
		time.Sleep(1500 * time.Millisecond)
		if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{}); err == nil {
			t.Fatal("an INACTIVE agent applied its target state")
		}
	})

	active := "ACTIVE"
	if _, err := b.Admin.Agents().Update(ctx, a.ID, client.UpdateAgentRequest{Status: &active}); err != nil {
		t.Fatal(err)
	}

	t.Run("a stack posted through the client is applied and reported SUCCESS", func(t *testing.T) {
		eventually(t, 15*time.Second, "the SUCCESS event", func() bool {
			ev := eventFor(t, b, a.ID, obj.ID)
			return ev != nil && ev.Status == agent.EventSuccess
		})
		cm, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
		if err != nil || cm.Data["greeting"] != "hello" {
			t.Fatalf("ConfigMap %v: %v", cm, err)
		}
		if _, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("deployment health is reported healthy once the pods run", func(t *testing.T) {
		// The real Deployment and ReplicaSet controllers create the pod, the scheduler places
		// it on a fake node and kwok runs it.
		eventually(t, time.Minute, "a healthy report", func() bool {
			h, err := b.Admin.DeploymentHealth().Object(ctx, obj.ID)
			return err == nil && len(h.HealthRecords) == 1 && h.HealthRecords[0].Status == client.HealthHealthy
		})
		h, _ := b.Admin.DeploymentHealth().Object(ctx, obj.ID)
		if rec := h.HealthRecords[0]; rec.AgentID != a.ID {
			t.Fatalf("health %+v", rec)
		}
		if n := runningPods(t, env, ns, "web"); n != 1 {
			t.Fatalf("%d running pods", n)
		}
	})

	t.Run("a bad manifest is reported FAILURE with the apiserver's message", func(t *testing.T) {
		bad := b.Post(t, stack.ID, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: broken, namespace: %s}\nspec:\n  ports: [{port: 70000}]\n", ns), false)
		eventually(t, 15*time.Second, "the FAILURE event", func() bool {
			ev := eventFor(t, b, a.ID, bad.ID)
			return ev != nil
		})
		ev := eventFor(t, b, a.ID, bad.ID)
		if ev.Status != agent.EventFailure || ev.Message == nil || !strings.Contains(*ev.Message, "70000: must be between 1 and 65535") {
			t.Fatalf("event %+v", ev)
		}
		// The previous version is still in place.
		if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a work order completes", func(t *testing.T) {
		job := fmt.Sprintf(`
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: %s}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox, command: ["true"]}]
`, ns)
		wo, err := b.Admin.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{WorkType: "custom", YAMLContent: job,
			Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{a.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		// The real Job controller runs the Job; kwok runs its pod to completion.
		var entry client.WorkOrderLog
		eventually(t, time.Minute, "the work order to complete", func() bool {
			entry, err = b.Admin.WorkOrders().LogEntry(ctx, wo.ID)
			return err == nil
		})
		if !entry.Success || entry.ClaimedBy == nil || *entry.ClaimedBy != a.ID || entry.ResultMessage == nil || !strings.Contains(*entry.ResultMessage, "migrate") {
			t.Fatalf("work order log %+v", entry)
		}
	})

	t.Run("diagnostics return pods, events and logs", func(t *testing.T) {
		// The Deployment's real pod, the scheduler's real event and kwok's canned log.
		live, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(live.Items) != 1 {
			t.Fatalf("pods of the Deployment: %v %v", live, err)
		}
		podName := live.Items[0].Name
		req, err := b.Admin.Diagnostics().Create(ctx, obj.ID, client.CreateDiagnosticRequest{AgentID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		var res client.DiagnosticResponse
		eventually(t, 15*time.Second, "the diagnostic result", func() bool {
			res, err = b.Admin.Diagnostics().Get(ctx, req.ID)
			return err == nil && res.Result != nil
		})
		var pods []map[string]any
		if err := json.Unmarshal([]byte(res.Result.PodStatuses), &pods); err != nil || len(pods) != 1 || pods[0]["name"] != podName || pods[0]["phase"] != "Running" {
			t.Fatalf("pod statuses %s: %v", res.Result.PodStatuses, err)
		}
		var events []map[string]any
		if err := json.Unmarshal([]byte(res.Result.Events), &events); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			found = found || e["reason"] == "Scheduled"
		}
		if !found {
			t.Fatalf("events %s", res.Result.Events)
		}
		if res.Result.LogTails == nil || !strings.Contains(*res.Result.LogTails, kubetest.FakeContainerLog[0]) {
			t.Fatalf("log tails %v", res.Result.LogTails)
		}
	})

	t.Run("health server", func(t *testing.T) {
		if code, body := get(t, r.health+"/healthz"); code != 200 || body != "OK" {
			t.Fatalf("healthz %d %q", code, body)
		}
		if code, body := get(t, r.health+"/readyz"); code != 200 {
			t.Fatalf("readyz %d %q", code, body)
		}
		code, body := get(t, r.health+"/health")
		var h struct {
			Status     string `json:"status"`
			Kubernetes struct {
				Connected bool `json:"connected"`
			} `json:"kubernetes"`
			Broker struct {
				Connected bool `json:"connected"`
			} `json:"broker"`
		}
		if err := json.Unmarshal([]byte(body), &h); err != nil || code != 200 || h.Status != "healthy" || !h.Kubernetes.Connected || !h.Broker.Connected {
			t.Fatalf("health %d %s", code, body)
		}
		_, metrics := get(t, r.health+"/metrics")
		for _, name := range []string{"brokkr_agent_poll_requests_total{status=\"success\"}", "brokkr_agent_heartbeat_sent_total",
			"brokkr_agent_managed_objects 2", "brokkr_agent_kubernetes_operations_total{operation=\"apply\"}"} {
			if !strings.Contains(metrics, name) {
				t.Errorf("metrics lack %s", name)
			}
		}
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		if err := r.stop(); err != nil {
			t.Fatalf("Run returned %v", err)
		}
	})
}

func TestStartupFailures(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge", "c1", true)
	run := func(tweak func(*config.AgentSettings)) error {
		cfg := config.DefaultAgent().Agent
		cfg.BrokerURL, cfg.PAK, cfg.AgentName, cfg.ClusterName, cfg.MaxRetries, cfg.HealthPort = b.URL, a.PAK, a.Name, "c1", 2, 0
		cfg.KubeconfigPath = env.Kubeconfig
		tweak(&cfg)
		ag, err := agent.New(agent.Options{Config: cfg, StartupInterval: 10 * time.Millisecond})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return ag.Run(ctx)
	}
	for name, tc := range map[string]struct {
		tweak func(*config.AgentSettings)
		want  string
	}{
		"broker down":      {func(c *config.AgentSettings) { c.BrokerURL = "http://127.0.0.1:1" }, "not ready after 2 attempts"},
		"wrong PAK":        {func(c *config.AgentSettings) { c.PAK = "brokkr_BRabcdefgh_0000000000000000000000" }, "rejected the agent PAK"},
		"admin PAK":        {func(c *config.AgentSettings) { c.PAK = b.AdminPAK }, "not an agent's key"},
		"unknown name":     {func(c *config.AgentSettings) { c.AgentName = "nobody" }, `agent "nobody" of cluster "c1" not found`},
		"missing kubeconf": {func(c *config.AgentSettings) { c.KubeconfigPath = "/nonexistent/kubeconfig" }, "kubeconfig /nonexistent/kubeconfig"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := run(tc.tweak); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
