package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
)

// benchManifest renders 1,000 objects — 50 ConfigMaps and 50 Services in each of the 10
// namespaces — whose content depends on rev. The Services are headless, as in the first
// measurements, so that the figures stay comparable.
func benchManifest(namespaces []string, rev int) string {
	var b strings.Builder
	for _, ns := range namespaces {
		for i := range 50 {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {rev: %q, payload: %q}\n",
				i, ns, strconv.Itoa(rev), strings.Repeat("x", 256))
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: %s, labels: {rev: %q}}\nspec:\n  clusterIP: None\n  selector: {app: a%d}\n  ports: [{name: http, port: %d, targetPort: 8080}]\n",
				i, ns, strconv.Itoa(rev), i, 8000+rev%1000)
		}
	}
	return b.String()
}

func kubectlPath() string {
	if p := os.Getenv("KUBECTL"); p != "" {
		return p
	}
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kubectl")); err == nil {
			return filepath.Join(dir, "kubectl")
		}
	}
	p, _ := exec.LookPath("kubectl")
	return p
}

// procStatus reads VmRSS and VmHWM (peak) of a process, in MiB.
func procStatus(pid int) (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// BenchmarkApply1000 applies one deployment object of 1,000 objects (ConfigMaps and Services
// across 10 namespaces) with the brokkr-agent binary, and the same manifest with
// `kubectl apply --server-side`, in the same run against the same living cluster. Each
// iteration is a new revision of every object (an update; the first is a create). It reports
// seconds per apply for both and the agent process's resident memory, with the agent's
// dry-run validation on (the default) and off.
//
//	KUBEBUILDER_ASSETS=$(make -s print-test-assets) go test -run '^$' -bench Apply1000 -benchtime 5x ./agent/
func BenchmarkApply1000(b *testing.B) {
	for _, validate := range []bool{true, false} {
		b.Run(fmt.Sprintf("validate=%v", validate), func(b *testing.B) { benchApply1000(b, validate) })
	}
}

func benchApply1000(b *testing.B, validate bool) {
	env := kubetest.Get(b)
	kubectl := kubectlPath()
	if kubectl == "" {
		if os.Getenv("CI") == "true" {
			b.Fatal("no kubectl: set KUBECTL or put kubectl on PATH")
		}
		b.Skip("no kubectl: set KUBECTL or put kubectl on PATH")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "brokkr-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/brokkr/brokkr/cmd/brokkr-agent").CombinedOutput(); err != nil {
		b.Fatalf("build brokkr-agent: %v\n%s", err, out)
	}
	broker := servertest.Start(b)
	cluster := "bench-" + uuid.NewString()[:8]
	ag := broker.CreateAgent(b, "bench", cluster, true)
	stack := broker.CreateStack(b, "bench", ag.ID)
	var agentNS, kubectlNS []string
	for i := range 10 {
		agentNS = append(agentNS, env.CreateNamespace(b, kubetest.UniqueName(fmt.Sprintf("agent-%d", i))))
		kubectlNS = append(kubectlNS, env.CreateNamespace(b, kubetest.UniqueName(fmt.Sprintf("kubectl-%d", i))))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "start")
	cmd.Env = append(os.Environ(),
		"BROKKR__AGENT__BROKER_URL="+broker.URL, "BROKKR__AGENT__PAK="+ag.PAK,
		"BROKKR__AGENT__AGENT_NAME=bench", "BROKKR__AGENT__CLUSTER_NAME="+cluster,
		"BROKKR__AGENT__KUBECONFIG_PATH="+env.Kubeconfig, "BROKKR__AGENT__HEALTH_PORT="+strconv.Itoa(port),
		"BROKKR__AGENT__HEALTH_ADDR=127.0.0.1", "BROKKR__AGENT__POLLING_INTERVAL=1", "BROKKR__LOG__LEVEL=warn",
		"BROKKR__AGENT__VALIDATE_BEFORE_APPLY="+strconv.FormatBool(validate))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	kfile := filepath.Join(dir, "objects.yaml")
	var agentTotal, kubectlTotal time.Duration
	var peak float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		manifest := benchManifest(agentNS, i+1)
		start := time.Now()
		obj := broker.Post(b, stack.ID, manifest, false)
		deadline := time.Now().Add(5 * time.Minute)
		for {
			ev := eventFor(b, broker, ag.ID, obj.ID)
			if ev != nil {
				if ev.Status != agent.EventSuccess {
					b.Fatalf("apply failed: %v", *ev.Message)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the agent did not apply within 5 minutes")
			}
			time.Sleep(20 * time.Millisecond)
		}
		agentTotal += time.Since(start)
		_, p := procStatus(cmd.Process.Pid)
		peak = max(peak, p)

		if err := os.WriteFile(kfile, []byte(benchManifest(kubectlNS, i+1)), 0o600); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		out, err := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "apply", "--server-side", "--force-conflicts",
			"--field-manager=bench", "-f", kfile).CombinedOutput()
		if err != nil {
			b.Fatalf("kubectl: %v\n%s", err, out)
		}
		kubectlTotal += time.Since(start)
	}
	b.StopTimer()
	rss, _ := procStatus(cmd.Process.Pid)
	b.ReportMetric(agentTotal.Seconds()/float64(b.N), "agent-s/apply")
	b.ReportMetric(kubectlTotal.Seconds()/float64(b.N), "kubectl-s/apply")
	b.ReportMetric(peak, "agent-peak-RSS-MiB")
	b.ReportMetric(rss, "agent-RSS-MiB")
}
