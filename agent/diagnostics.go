package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/brokkr/brokkr/agent/workload"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
	"github.com/google/uuid"
)

// diagnostics claims the agent's pending diagnostic requests and answers each with the pods,
// events and log tails of the namespaces the deployment object lives in.
func (a *Agent) diagnostics(ctx context.Context) error {
	pending, err := a.client.Diagnostics().Pending(ctx, a.id)
	if err != nil {
		return fmt.Errorf("pending diagnostics: %w", err)
	}
	var errs []error
	for _, req := range pending {
		if _, err := a.client.Diagnostics().Claim(ctx, req.ID); err != nil {
			if !client.IsConflict(err) {
				errs = append(errs, fmt.Errorf("claim diagnostic %s: %w", req.ID, err))
			}
			continue
		}
		res := a.collect(ctx, req.DeploymentObjectID)
		_, err := a.client.Diagnostics().SubmitResult(ctx, req.ID, res)
		a.metrics.DiagnosticsDone(err == nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("submit diagnostic %s: %w", req.ID, err))
		}
	}
	return errors.Join(errs...)
}

// collect gathers the diagnostics of one deployment object; a failure becomes a result that
// says what went wrong.
func (a *Agent) collect(ctx context.Context, objectID uuid.UUID) client.SubmitDiagnosticResult {
	res, err := a.inspector.Collect(ctx, objectID, a.objectNamespaces(ctx, objectID), workload.DefaultLimits())
	if err == nil {
		return res
	}
	a.log.Warn("collecting diagnostics", logx.DeploymentObjectID(objectID), logx.Err(err))
	return client.FailedDiagnosticResult(err.Error(), time.Now().UTC())
}

// objectNamespaces returns the namespaces of a deployment object: from the agent's inventory
// when it applied the object, else from its manifest, else the default namespace.
func (a *Agent) objectNamespaces(ctx context.Context, objectID uuid.UUID) []string {
	if ns := a.rec.Namespaces(objectID); len(ns) > 0 {
		return ns
	}
	fallback := a.cfg.WatchNamespace
	if fallback == "" {
		fallback = "default"
	}
	obj, err := a.client.DeploymentObjects().Get(ctx, objectID)
	if err != nil {
		a.log.Debug("deployment object for diagnostics", logx.DeploymentObjectID(objectID), logx.Err(err))
		return []string{fallback}
	}
	return workload.Namespaces(obj.YAMLContent, fallback, a.cluster.Mapper)
}
