package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/client"
)

// placement is one stack on one agent it targets.
type placement struct {
	stack  *demoStack
	member *member
}

func (p placement) String() string { return p.stack.name + " on " + p.member.env }

// progress is what the fleet has reached.
type progress struct {
	applied  map[placement]bool   // a SUCCESS event for the stack's latest object
	running  map[placement]bool   // the Deployment's pods ready in the cluster
	failures map[placement]string // the last FAILURE message seen
}

// placements are every stack on every agent it targets.
func (f *fleet) placements() []placement {
	var ps []placement
	for _, s := range f.stacks {
		for _, m := range f.members {
			if s.targets(m.env) {
				ps = append(ps, placement{stack: s, member: m})
			}
		}
	}
	return ps
}

// awaitReady waits until every stack's latest deployment object has a SUCCESS event from
// each agent it targets (read through the broker's API) and its Deployment's pods are ready
// in that agent's cluster, telling the user as each one gets there. A timeout of 0 waits as
// long as ctx lasts.
func (f *fleet) awaitReady(ctx context.Context, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ps := f.placements()
	seen := progress{applied: map[placement]bool{}, running: map[placement]bool{}, failures: map[placement]string{}}
	start := time.Now()
	for {
		now := f.check(ctx, ps)
		for _, p := range ps {
			if now.applied[p] && !seen.applied[p] {
				f.say("  applied  %s", p)
			}
			if now.running[p] && !seen.running[p] {
				f.say("  running  %s: %d pods of %s ready", p, p.stack.replicas, p.stack.deployment)
			}
			if msg, ok := now.failures[p]; ok && msg != seen.failures[p] {
				f.say("  FAILURE  %s: %s", p, msg)
			}
		}
		seen = now
		if len(now.applied) == len(ps) && len(now.running) == len(ps) {
			f.say("the fleet is ready in %s: every stack runs on every agent it targets", time.Since(start).Round(time.Second))
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the fleet was not ready within %s; missing: %s", timeout, missing(ps, now))
			}
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// check reads the agents' events from the broker and the Deployments from the clusters.
func (f *fleet) check(ctx context.Context, ps []placement) progress {
	now := progress{applied: map[placement]bool{}, running: map[placement]bool{}, failures: map[placement]string{}}
	events := map[*member][]client.AgentEvent{}
	for _, m := range f.members {
		evs, err := f.admin.Agents().Events(ctx, m.agent.ID)
		if err == nil {
			events[m] = evs
		}
	}
	for _, p := range ps {
		for _, ev := range events[p.member] {
			if ev.DeploymentObjectID != p.stack.object.ID {
				continue
			}
			switch ev.Status {
			case agent.EventSuccess:
				now.applied[p] = true
			case agent.EventFailure:
				if ev.Message != nil {
					now.failures[p] = *ev.Message
				}
			}
		}
		if now.applied[p] {
			delete(now.failures, p)
		}
		d, err := p.member.cluster.Kube.AppsV1().Deployments(p.stack.namespace).Get(ctx, p.stack.deployment, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && int(d.Status.ReadyReplicas) == p.stack.replicas &&
			int(d.Status.UpdatedReplicas) == p.stack.replicas {
			now.running[p] = true
		}
	}
	return now
}

// missing lists what the fleet has not reached yet.
func missing(ps []placement, now progress) string {
	var out []string
	for _, p := range ps {
		if !now.applied[p] {
			what := p.String() + " not applied"
			if msg, ok := now.failures[p]; ok {
				what += " (FAILURE: " + msg + ")"
			}
			out = append(out, what)
		} else if !now.running[p] {
			out = append(out, p.String()+" not running")
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
