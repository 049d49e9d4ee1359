package cli_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// docCommands returns the brokkrctl command lines of the console examples of a document, in
// order, each split into arguments as a POSIX shell would split these simple lines (double
// quotes group words).
func docCommands(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	inConsole := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```console"):
			inConsole = true
		case strings.HasPrefix(line, "```"):
			inConsole = false
		case inConsole && strings.HasPrefix(line, "$ brokkrctl "):
			out = append(out, splitWords(t, strings.TrimPrefix(line, "$ brokkrctl ")))
		case inConsole && strings.HasPrefix(line, "$ "):
			t.Fatalf("%s: example %q is not a brokkrctl command", path, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func splitWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestRolloutsDocExamplesRun runs every example of docs/rollouts.md, in order, against a
// broker with the generator, agents and files the document names: each must succeed.
func TestRolloutsDocExamplesRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	for name, label := range map[string]string{"canary-1": "canary", "eu-1": "region=eu", "us-1": "region=us"} {
		a, err := e.api.Agents().Create(ctx, client.CreateAgentRequest{Name: name, ClusterName: "cluster-" + name,
			GeneratorIDs: []uuid.UUID{gen.Generator.ID}})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{label, "app=web"} {
			if _, err := e.api.Agents().AddLabel(ctx, a.Agent.ID, l); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	for file, greeting := range map[string]string{"web.yaml": "one", "web-v2.yaml": "two", "hotfix.yaml": "three"} {
		yaml := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  greeting: " + greeting + "\n"
		if err := os.WriteFile(filepath.Join(dir, file), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmds := docCommands(t, filepath.Join(repoRoot(t), "docs", "rollouts.md"))
	t.Chdir(dir)
	if len(cmds) < 15 {
		t.Fatalf("found %d examples in docs/rollouts.md", len(cmds))
	}
	for _, args := range cmds {
		r := e.run(false, args...)
		if r.code != 0 {
			t.Fatalf("brokkrctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	// The examples did what they say.
	stacks, err := e.api.Stacks().List(ctx, nil)
	if err != nil || len(stacks) != 1 {
		t.Fatalf("stacks %+v, %v", stacks, err)
	}
	rollouts, err := e.api.Stacks().Rollouts(ctx, stacks[0].ID)
	if err != nil || len(rollouts) != 2 || rollouts[1].Status != client.RolloutAborted {
		t.Fatalf("rollouts %+v, %v: want the aborted one and the hotfix's", rollouts, err)
	}
	windows, err := e.api.ApplyWindows().List(ctx)
	if err != nil || len(windows) != 1 || windows[0].Name != "weeknights" {
		t.Fatalf("windows %+v, %v: want weeknights left", windows, err)
	}
}

// repoRoot is the module's root directory (the tests run in cli/).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}
