package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// demoStack is an example stack: its labels choose the agents (env=<env>), its manifest is
// a namespace, a ConfigMap and a Deployment whose pods run on the kwok nodes.
type demoStack struct {
	name        string
	description string
	envs        []string // the labels env=<env>
	namespace   string
	deployment  string
	replicas    int
	image       string
	greeting    string

	stack  client.Stack
	object client.DeploymentObject // the latest deployment object
}

// exampleStacks are the demo's stacks: one for every environment, one for prod only.
func exampleStacks() []*demoStack {
	return []*demoStack{
		{name: "hello-web", description: "a web front end on every cluster", envs: []string{"dev", "staging", "prod"},
			namespace: "hello-web", deployment: "web", replicas: 2, image: "nginx:1.27", greeting: "hello from brokkr"},
		{name: "billing", description: "the billing API, on prod only", envs: []string{"prod"},
			namespace: "billing", deployment: "billing-api", replicas: 3, image: "ghcr.io/example/billing-api:1.4.2",
			greeting: "invoices are sent at 06:00"},
	}
}

// manifest is the stack's deployment object.
func (s *demoStack) manifest() string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[2]s-config
  namespace: %[1]s
data:
  greeting: %[3]q
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[4]d
  selector:
    matchLabels: {app: %[2]s}
  template:
    metadata:
      labels: {app: %[2]s}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: %[2]s
        image: %[5]q
        envFrom:
        - configMapRef: {name: %[2]s-config}
`, s.namespace, s.deployment, s.greeting, s.replicas, s.image)
}

// targets reports whether the stack's labels choose the agent of env.
func (s *demoStack) targets(env string) bool {
	for _, e := range s.envs {
		if e == env {
			return true
		}
	}
	return false
}

// setup creates the broker's side of the fleet: a generator (as a CI pipeline would own its
// stacks), one agent per environment registered with it and labelled env=<env>, and the
// example stacks with their labels and deployment objects, posted by the generator.
func (f *fleet) setup(ctx context.Context) error {
	desc := "the demo's pipeline: owns the example stacks"
	gen, err := f.admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "demo-ci", Description: &desc})
	if err != nil {
		return fmt.Errorf("create the generator: %w", err)
	}
	for _, m := range f.members {
		created, err := f.admin.Agents().Create(ctx, client.CreateAgentRequest{
			Name: m.env, ClusterName: "demo-" + m.env, GeneratorIDs: []uuid.UUID{gen.Generator.ID}})
		if err != nil {
			return fmt.Errorf("create agent %s: %w", m.env, err)
		}
		m.pak = created.InitialPAK
		// A new agent idles (heartbeats only) until it is made ACTIVE.
		active := "ACTIVE"
		if m.agent, err = f.admin.Agents().Update(ctx, created.Agent.ID, client.UpdateAgentRequest{Status: &active}); err != nil {
			return fmt.Errorf("activate agent %s: %w", m.env, err)
		}
		if _, err := f.admin.Agents().AddLabel(ctx, m.agent.ID, "env="+m.env); err != nil {
			return fmt.Errorf("label agent %s: %w", m.env, err)
		}
	}
	pipeline, err := client.New(f.url, client.WithPAK(gen.PAK))
	if err != nil {
		return err
	}
	f.stacks = exampleStacks()
	for _, s := range f.stacks {
		d := s.description
		if s.stack, err = pipeline.Stacks().Create(ctx, client.CreateStackRequest{Name: s.name, Description: &d, GeneratorID: gen.Generator.ID}); err != nil {
			return fmt.Errorf("create stack %s: %w", s.name, err)
		}
		for _, env := range s.envs {
			if _, err := pipeline.Stacks().AddLabel(ctx, s.stack.ID, "env="+env); err != nil {
				return fmt.Errorf("label stack %s: %w", s.name, err)
			}
		}
		if s.object, err = pipeline.Stacks().CreateDeploymentObject(ctx, s.stack.ID, s.manifest(), false); err != nil {
			return fmt.Errorf("post the deployment object of %s: %w", s.name, err)
		}
	}
	if err := os.WriteFile(f.manifestFile(f.stacks[0]), []byte(f.stacks[0].manifest()), 0o644); err != nil { //nolint:gosec // the user edits it
		return err
	}
	// Changes of hello-web from now on roll out dev → staging → prod, each wave waiting for
	// its cluster to be healthy and for a promote.
	if _, err := pipeline.Stacks().SetRolloutPolicy(ctx, f.stacks[0].stack.ID, demoRolloutPolicy()); err != nil {
		return fmt.Errorf("set the rollout policy of %s: %w", f.stacks[0].name, err)
	}
	return nil
}

// manifestFile is where the demo leaves a copy of a stack's manifest for the user to change.
func (f *fleet) manifestFile(s *demoStack) string { return filepath.Join(f.dir, s.name+".yaml") }

// demoRolloutPolicy is hello-web's rollout policy: one wave per environment, in order, each
// gated on health and followed by a manual pause.
func demoRolloutPolicy() client.RolloutPolicy {
	p := client.RolloutPolicy{Gate: client.GateHealthy, Pause: client.PauseManual}
	for _, env := range envs {
		p.Waves = append(p.Waves, client.RolloutWave{Name: env, Selector: client.Selector{Labels: []string{"env=" + env}}})
	}
	return p
}

// printUsage prints the broker's address, the admin PAK, what the demo created and how to
// point brokkrctl at the broker.
func (f *fleet) printUsage() {
	ctl := filepath.Join(f.opts.binDir, "brokkrctl")
	var agents, stacks []string
	for _, m := range f.members {
		agents = append(agents, fmt.Sprintf("%s/%s (env=%s)", m.agent.Name, m.agent.ClusterName, m.env))
	}
	for _, s := range f.stacks {
		stacks = append(stacks, fmt.Sprintf("%s (env=%s)", s.name, strings.Join(s.envs, ", env=")))
	}
	f.say(`
  broker      %[1]s  (log %[3]s)
  admin PAK   %[2]s
  generator   demo-ci, owner of the stacks
  agents      %[4]s
  stacks      %[5]s

brokkrctl, from this shell only:
  export BROKKR_BROKER_URL=%[1]s BROKKR_PAK=%[2]s
  %[6]s fleet list
  %[6]s stack health hello-web
  %[6]s tui

a progressive rollout: hello-web's changes go dev → staging → prod, each wave waiting for
health and for a promote; change the greeting in %[7]s, then:
  %[6]s stack apply -f %[7]s --stack hello-web
  %[6]s stack rollout status hello-web --watch
  %[6]s stack rollout promote hello-web

or saved as the context "demo", which becomes the current one (brokkrctl config use-context
NAME switches back; brokkrctl logout --context demo forgets it):
  %[6]s login --broker-url %[1]s --pak %[2]s --context demo
  %[6]s tui --context demo

The clusters and agents are starting; Ctrl-C stops everything.
`, f.url, f.adminPAK, f.broker.Log, strings.Join(agents, ", "), strings.Join(stacks, "; "), ctl, f.manifestFile(f.stacks[0]))
}
