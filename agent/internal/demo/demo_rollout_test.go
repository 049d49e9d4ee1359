package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/client"
)

// ctl runs brokkrctl against the demo's broker and returns its standard output.
type ctl struct {
	t        *testing.T
	bin      string
	url, pak string
	home     string
}

func (c ctl) run(ctx context.Context, args ...string) string {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "brokkrctl"), args...)
	cmd.Env = append(os.Environ(), "BROKKR_BROKER_URL="+c.url, "BROKKR_PAK="+c.pak, "HOME="+c.home, "XDG_CONFIG_HOME="+c.home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("brokkrctl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func (c ctl) rollout(ctx context.Context) client.Rollout {
	c.t.Helper()
	var r client.Rollout
	if err := json.Unmarshal([]byte(c.run(ctx, "stack", "rollout", "status", "hello-web", "-o", "json")), &r); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// checkRollout drives a progressive rollout of hello-web dev → staging → prod from brokkrctl
// (the demo's policy: healthy gate, manual pauses) and watches each cluster receive the new
// greeting in turn, and only then.
func checkRollout(ctx context.Context, t *testing.T, f *fleet, bin, printed string) {
	t.Helper()
	m := exportRE.FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("the demo printed no brokkrctl settings:\n%s", printed)
	}
	c := ctl{t: t, bin: bin, url: m[1], pak: m[2], home: t.TempDir()}
	web := f.stacks[0]
	const greeting = "hello from brokkr, second edition"
	changed := strings.Replace(web.manifest(), web.greeting, greeting, 1)
	file := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	greetings := func() map[string]string {
		out := map[string]string{}
		for _, mem := range f.members {
			cm, err := mem.cluster.Kube.CoreV1().ConfigMaps(web.namespace).Get(ctx, web.deployment+"-config", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("cluster %s: %v", mem.env, err)
			}
			out[mem.env] = cm.Data["greeting"]
		}
		return out
	}
	// awaitWave waits until the clusters up to wave n have the new greeting, the others keep
	// the old one, and the rollout reports what it must then.
	awaitWave := func(n int, status string) {
		t.Helper()
		start := time.Now()
		defer func() {
			t.Logf("wave %d (%s) reached its clusters in %v", n, envs[n], time.Since(start).Round(100*time.Millisecond))
		}()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			g, r := greetings(), c.rollout(ctx)
			ok := r.Status == status
			for i, env := range envs {
				want := web.greeting
				if i <= n {
					want = greeting
				} else if g[env] != want {
					t.Fatalf("wave %d: cluster %s already has %q (rollout %s, wave %d)", n, env, g[env], r.Status, r.CurrentWave)
				}
				ok = ok && g[env] == want
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("wave %d: greetings %v, rollout %s at wave %d (want %s)", n, g, r.Status, r.CurrentWave, status)
			}
			time.Sleep(time.Second)
		}
	}

	if out := c.run(ctx, "stack", "apply", "-f", file, "--stack", "hello-web"); !strings.Contains(out, "updated") {
		t.Fatalf("stack apply: %s", out)
	}
	awaitWave(0, client.RolloutWaiting)
	var holds []client.Hold
	if err := json.Unmarshal([]byte(c.run(ctx, "stack", "holds", "hello-web", "-o", "json")), &holds); err != nil {
		t.Fatal(err)
	}
	if len(holds) != 2 {
		t.Fatalf("holds after the dev wave: %+v, want staging and prod", holds)
	}
	for _, h := range holds {
		if h.Reason != client.HoldRollout || (h.AgentName != "staging" && h.AgentName != "prod") {
			t.Errorf("hold %+v", h)
		}
	}
	if out := c.run(ctx, "stack", "rollout", "status", "hello-web"); !strings.Contains(out, "waiting") || !strings.Contains(out, "staging") {
		t.Errorf("rollout status says:\n%s", out)
	}
	c.run(ctx, "stack", "rollout", "promote", "hello-web")
	awaitWave(1, client.RolloutWaiting)
	c.run(ctx, "stack", "rollout", "promote", "hello-web")
	awaitWave(2, client.RolloutCompleted)
	if r := c.rollout(ctx); r.FinishedAt == nil || len(r.Waves) != 4 {
		t.Errorf("completed rollout %+v", r)
	}
}
