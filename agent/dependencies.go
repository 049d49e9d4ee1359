package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/agent/workload"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

// Reasons a stack waits for a stack it depends on (besides "FAILURE: <message>" and
// "not healthy: <state>").
const reasonNotApplied = "latest object not applied"

// waitState is what was last reported of a stack waiting for its dependencies.
type waitState struct {
	objectID uuid.UUID
	key      string // the reported reasons, to report each distinct set once
}

// refreshSettings asks the broker for the drift policy and dependencies of every stack
// associated with the agent. A failed request keeps the settings known so far (a broker
// without the endpoint leaves every stack at policy report, without dependencies).
func (r *Reconciler) refreshSettings(ctx context.Context) {
	list, err := r.Client.Agents().StackSettings(ctx, r.AgentID)
	if err != nil {
		if !client.IsNotFound(err) {
			r.log().Warn("reading the stack settings", logx.Err(err))
		}
		return
	}
	settings := make(map[uuid.UUID]client.StackSettings, len(list))
	for _, s := range list {
		settings[s.StackID] = s
	}
	r.settings = settings
}

// policy is the drift policy of a stack ("report" unless the broker said otherwise).
func (r *Reconciler) policy(stackID uuid.UUID) string {
	switch p := r.settings[stackID].DriftPolicy; p {
	case client.DriftPolicyCorrect, client.DriftPolicyIgnore:
		return p
	}
	return client.DriftPolicyReport
}

// dependencyOrder orders target so that a stack comes after the stacks it depends on (which
// can then be applied in the same pass), keeping the given order otherwise; cycles, which
// the broker refuses, are broken in the given order. It returns the target state by stack
// too, and forgets the waits of stacks that left it.
func (r *Reconciler) dependencyOrder(target []client.DeploymentObject) ([]client.DeploymentObject, map[uuid.UUID]client.DeploymentObject) {
	latest := make(map[uuid.UUID]client.DeploymentObject, len(target))
	idx := make(map[uuid.UUID]int, len(target))
	for i, obj := range target {
		latest[obj.StackID] = obj
		idx[obj.StackID] = i
	}
	for id := range r.waits {
		if _, ok := latest[id]; !ok {
			delete(r.waits, id)
		}
	}
	if len(idx) < len(target) {
		return target, latest // two objects of one stack: keep their order
	}
	out := make([]client.DeploymentObject, 0, len(target))
	visited := make(map[uuid.UUID]bool, len(target))
	var visit func(i int)
	visit = func(i int) {
		id := target[i].StackID
		if visited[id] {
			return
		}
		visited[id] = true
		for _, dep := range r.settings[id].DependsOn {
			if j, ok := idx[dep]; ok {
				visit(j)
			}
		}
		out = append(out, target[i])
	}
	for i := range target {
		visit(i)
	}
	return out, latest
}

// waiting reports whether obj must wait for the stacks its stack depends on, and reports the
// wait (once per distinct set of reasons) when it must. latest holds the pass's target state
// by stack.
func (r *Reconciler) waiting(ctx context.Context, obj client.DeploymentObject, latest map[uuid.UUID]client.DeploymentObject) bool {
	waits := r.waitsFor(ctx, obj.StackID, latest)
	if len(waits) == 0 {
		delete(r.waits, obj.StackID)
		return false
	}
	body, _ := json.Marshal(client.DependencyReport{WaitingFor: waits})
	key := string(body)
	if w := r.waits[obj.StackID]; w.objectID == obj.ID && w.key == key {
		return true
	}
	r.waits[obj.StackID] = waitState{objectID: obj.ID, key: key}
	r.log().Info("stack waits for the stacks it depends on", logx.StackID(obj.StackID), logx.DeploymentObjectID(obj.ID), "waiting_for", key)
	r.event(ctx, obj.ID, client.EventTypeDependency, client.DependencyWaiting, key)
	return true
}

// waitsFor returns the dependencies of a stack that are not ready on this agent: their
// latest deployment object is not applied with success or, where the agent computes health,
// not healthy.
func (r *Reconciler) waitsFor(ctx context.Context, stackID uuid.UUID, latest map[uuid.UUID]client.DeploymentObject) []client.DependencyWait {
	var (
		waits   []client.DependencyWait
		tracked []workload.Tracked
		names   = map[uuid.UUID]client.DependencyWait{}
	)
	for _, dep := range r.settings[stackID].DependsOn {
		w := client.DependencyWait{StackID: dep, StackName: r.settings[dep].StackName}
		if w.StackName == "" {
			w.StackName = dep.String()
		}
		obj, ok := latest[dep]
		st := r.stacks[dep]
		switch {
		case !ok || st == nil || st.objectID != obj.ID || st.checksum != obj.YAMLChecksum || st.unverified:
			w.Reason = reasonNotApplied
			if f := r.failures[obj.ID]; ok && f != nil && f.message != "" {
				w.Reason = "FAILURE: " + f.message
			}
			waits = append(waits, w)
		case r.Health != nil && !obj.IsDeletionMarker && len(st.objects) > 0:
			tracked = append(tracked, trackedOf(st))
			names[st.objectID] = w
		}
	}
	if len(tracked) == 0 {
		return waits
	}
	for _, h := range r.Health(ctx, tracked) {
		if h.Status == client.HealthHealthy {
			continue
		}
		w := names[h.ID]
		w.Reason = "not healthy: " + h.Status
		if h.Summary != nil && len(h.Summary.Conditions) > 0 {
			w.Reason += fmt.Sprintf(" (%s)", strings.Join(h.Summary.Conditions, ", "))
		}
		waits = append(waits, w)
	}
	return waits
}
