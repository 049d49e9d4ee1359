package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/brokkr/brokkr/cli"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/client"
)

// TestCreateTakesTheNameAsArgument creates one of each named resource against a real broker
// with the name as the argument, as kubectl and gh take it; --name keeps working, and a
// second, different name is a usage error that creates nothing.
func TestCreateTakesTheNameAsArgument(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tmpl := filepath.Join(t.TempDir(), "web.tera")
	if err := os.WriteFile(tmpl, []byte("replicas: {{ replicas }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"generator", "create", "ci"},
		{"generator", "create", "--name", "cd"},
		{"agent", "create", "edge-1", "--cluster", "eu-west", "--generator", "ci"},
		{"stack", "create", "web", "--generator", "ci"},
		{"template", "create", "web", "-f", tmpl},
		{"webhook", "create", "ops", "--url", "https://hooks.example.com/x", "--event", "agent.offline"},
	} {
		if r := e.run(false, args...); r.code != 0 {
			t.Fatalf("%q: %+v", args, r)
		}
	}
	gens, err := e.api.Generators().List(ctx)
	if err != nil || !hasName(gens, func(g client.Generator) string { return g.Name }, "ci", "cd") {
		t.Fatalf("generators %+v, %v", gens, err)
	}
	agents, err := e.api.Agents().List(ctx)
	if err != nil || len(agents) != 1 || agents[0].Name != "edge-1" || agents[0].ClusterName != "eu-west" {
		t.Fatalf("agents %+v, %v", agents, err)
	}
	stacks, err := e.api.Stacks().List(ctx, nil)
	if err != nil || !hasName(stacks, func(s client.Stack) string { return s.Name }, "web") {
		t.Fatalf("stacks %+v, %v", stacks, err)
	}
	templates, err := e.api.Templates().List(ctx)
	if err != nil || !hasName(templates, func(t client.StackTemplate) string { return t.Name }, "web") {
		t.Fatalf("templates %+v, %v", templates, err)
	}
	hooks, err := e.api.Webhooks().List(ctx)
	if err != nil || !hasName(hooks, func(w client.WebhookResponse) string { return w.Name }, "ops") {
		t.Fatalf("webhooks %+v, %v", hooks, err)
	}

	r := e.run(false, "stack", "create", "api", "--name", "backend", "--generator", "ci")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.stderr, `the name is given twice: "api" and --name "backend"`) {
		t.Fatalf("two names: %+v", r)
	}
	r = e.run(false, "stack", "create", "--generator", "ci")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.stderr, "--name is required") {
		t.Fatalf("no name: %+v", r)
	}
	if stacks, err := e.api.Stacks().List(ctx, nil); err != nil || len(stacks) != 1 {
		t.Fatalf("a refused create created a stack: %+v, %v", stacks, err)
	}
}

func hasName[T any](items []T, name func(T) string, want ...string) bool {
	var got []string
	for _, it := range items {
		got = append(got, name(it))
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// TestTargetLabelSpelling runs the reference CLI's --target-label where brokkrctl targets
// agents by label: stack apply labels the stack, workorder create targets the order.
func TestTargetLabelSpelling(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
	r := e.runWith(runOpts{env: env, stdin: manifest}, "stack", "apply", "-f", "-", "--stack", "web", "--generator", "ci",
		"--target-label", "env:prod", "--label", "edge", "-o", "json")
	var applied struct {
		Stack client.Stack `json:"stack"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &applied) != nil {
		t.Fatalf("apply --target-label: %+v", r)
	}
	labels, err := e.api.Stacks().Labels(ctx, applied.Stack.ID)
	var got []string
	for _, l := range labels {
		got = append(got, l.Label)
	}
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"edge", "env:prod"}) {
		t.Fatalf("stack labels %v, %v", got, err)
	}

	agent, _ := e.agent("gpu-node")
	if _, err := e.api.Agents().AddLabel(ctx, agent.ID, "gpu"); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(job, []byte("apiVersion: batch/v1\nkind: Job\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.run(false, "workorder", "create", "--type", "build", "--yaml-file", job, "--target-label", "gpu", "-o", "json")
	var order client.WorkOrder
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &order) != nil {
		t.Fatalf("workorder create --target-label: %+v", r)
	}
	pending, err := e.api.WorkOrders().Pending(ctx, agent.ID, "")
	if err != nil || len(pending) != 1 || pending[0].ID != order.ID {
		t.Fatalf("pending orders of the labelled agent: %+v, %v", pending, err)
	}
}

// commands returns every command of the brokkrctl tree, hidden ones included.
func commands() []*cobra.Command {
	ios, _, _, _ := iostreams.Test()
	var out []*cobra.Command
	stack := []*cobra.Command{cli.NewRootCmd(cmdutil.NewFactory("test", ios))}
	for len(stack) > 0 {
		c := stack[0]
		stack = append(stack[1:], c.Commands()...)
		out = append(out, c)
	}
	return out
}

// usageWithName and exampleWithName match a usage line and an example giving the name as
// the argument (after switches such as --read-only, if any).
var (
	usageWithName   = regexp.MustCompile(`^create (--[a-z-]+ )*NAME\b`)
	exampleWithName = regexp.MustCompile(`brokkrctl [a-z]+ create (--[a-z-]+ )*[a-z0-9]`)
)

// TestCreateVerbsTakeNAME keeps every create verb with a --name flag taking the name as its
// argument too, saying so in its usage line, and completing no file names for it.
func TestCreateVerbsTakeNAME(t *testing.T) {
	n := 0
	for _, c := range commands() {
		if c.Name() != "create" || c.Flags().Lookup("name") == nil {
			continue
		}
		n++
		path := c.CommandPath()
		if !usageWithName.MatchString(c.Use) || strings.Contains(c.Use, "--name NAME") {
			t.Errorf("%s: usage %q does not show NAME as the argument", path, c.Use)
		}
		if c.Args == nil || c.Args(c, []string{"x"}) != nil || c.Args(c, []string{"x", "y"}) == nil {
			t.Errorf("%s: does not take exactly one optional NAME", path)
		}
		if c.ValidArgsFunction == nil {
			t.Errorf("%s: NAME has no completion", path)
		} else if _, dir := c.ValidArgsFunction(c, nil, ""); dir != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("%s: NAME completes with directive %d, want no file completion", path, dir)
		}
		if !exampleWithName.MatchString(c.Example) || strings.Contains(c.Example, "create --name") {
			t.Errorf("%s: examples do not show the name as the argument:\n%s", path, c.Example)
		}
	}
	if n < 5 {
		t.Fatalf("found %d create verbs with --name, want generator, agent, stack, template and webhook", n)
	}
}

// articleMistakes matches "a" before a noun that starts with a vowel sound and "an" before one
// that does not, for the nouns brokkrctl's help speaks of.
var articleMistakes = regexp.MustCompile(`(?i)\b(a (agent|annotation|object|event|update|order|error|item|id|entry|` +
	`existing|empty|optional|unknown|invalid|explicit|old|other|admin|array|argument|image|owner|interval|HTTP|hour|` +
	`SHA|RFC|SSE|ETag|MD5)|an (stack|template|generator|label|webhook|work order|workorder|cluster|deployment|` +
	`diagnostic|PAK|name|key|broker|context|delivery|user|UUID|URL|one))\b`)

// TestHelpArticles scans every command's help for article mistakes ("a agent", "an stack"),
// including the texts the label and annotation verbs build for each noun.
func TestHelpArticles(t *testing.T) {
	for _, c := range commands() {
		texts := []string{c.Short, c.Long, c.Example}
		c.Flags().VisitAll(func(f *pflag.Flag) { texts = append(texts, f.Usage) })
		for _, s := range texts {
			for _, m := range articleMistakes.FindAllString(s, -1) {
				t.Errorf("%s: %q in %q", c.CommandPath(), m, s)
			}
		}
	}
}
