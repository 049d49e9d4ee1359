// Package workorders executes the work orders the broker queues for the agent: `custom`
// orders (apply manifests, wait for their Jobs) and `build` orders (run a Shipwright build).
package workorders

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
	"github.com/google/uuid"
)

// Work types the agent executes.
const (
	TypeCustom = "custom"
	TypeBuild  = "build"
)

// FieldManager owns the fields the agent applies for work orders.
const FieldManager = "brokkr-agent"

const (
	defaultPollInterval = 5 * time.Second
	defaultBuildTimeout = 15 * time.Minute
	reportTimeout       = 30 * time.Second
)

// Runner claims and executes the agent's work orders.
type Runner struct {
	Cluster *kube.Cluster
	Client  *client.Client // the agent's broker client
	AgentID uuid.UUID
	// Log receives one record per work order and its outcome; nil discards them.
	Log *slog.Logger
	// PollInterval paces Job resyncs and BuildRun polling (5 s when 0).
	PollInterval time.Duration
	// BuildTimeout bounds the wait for a BuildRun (15 min when 0); the claim budget may
	// shorten it.
	BuildTimeout time.Duration
	// Metrics, when set, counts finished work orders.
	Metrics interface {
		WorkOrderDone(workType string, success bool)
	}
}

// Result is the outcome of a work order, as reported to the broker.
type Result struct {
	Success bool
	Message string
	// Retryable asks the broker to offer the order again (within its retry limit).
	Retryable bool
}

// RunOnce fetches the agent's pending work orders, claims the first one it can (an order
// another agent claimed first is skipped), executes it and reports the result. It returns
// whether it ran an order; an order that ran but whose report the broker did not take
// returns true with the error. Calls must not overlap.
func (r *Runner) RunOnce(ctx context.Context) (bool, error) {
	wos := r.Client.WorkOrders()
	pending, err := wos.Pending(ctx, r.AgentID, "")
	if err != nil {
		return false, fmt.Errorf("list pending work orders: %w", err)
	}
	for _, p := range pending {
		claimed, err := wos.Claim(ctx, p.ID, r.AgentID)
		switch {
		case err == nil:
			return true, r.run(ctx, claimed)
		case client.IsNotFound(err) || client.IsConflict(err):
			// Claimed by someone else, or gone, since the list was read.
			r.log().Debug("work order not claimable", logx.WorkOrderID(p.ID), logx.Err(err))
		default:
			return false, fmt.Errorf("claim work order %s: %w", p.ID, err)
		}
	}
	return false, nil
}

// run executes a claimed order and reports its outcome.
func (r *Runner) run(ctx context.Context, wo client.WorkOrder) error {
	log := r.log().With(logx.WorkOrderID(wo.ID), slog.String("work_type", wo.WorkType))
	log.Info("work order claimed", slog.Int("claim_timeout_seconds", int(wo.ClaimTimeoutSeconds)))
	start := time.Now()
	res := r.Execute(ctx, wo)
	if r.Metrics != nil {
		r.Metrics.WorkOrderDone(wo.WorkType, res.Success)
	}
	attrs := []any{slog.Bool("success", res.Success), slog.String("message", res.Message),
		slog.Duration("duration", time.Since(start))}
	if res.Success {
		log.Info("work order finished", attrs...)
	} else {
		log.Warn("work order failed", append(attrs, slog.Bool("retryable", res.Retryable))...)
	}
	// Report even when ctx ended (the agent is stopping), so the broker need not wait for
	// the claim to time out.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	msg, retryable := res.Message, res.Retryable
	_, err := r.Client.WorkOrders().Complete(rctx, wo.ID, client.CompleteWorkOrderRequest{
		Success: res.Success, Message: &msg, Retryable: &retryable,
	})
	if err != nil {
		return fmt.Errorf("report work order %s: %w", wo.ID, err)
	}
	return nil
}

// Execute runs one claimed work order and returns the outcome to report. The time it may
// take is the Budget of the order's claim timeout, counted from the call.
func (r *Runner) Execute(ctx context.Context, wo client.WorkOrder) Result {
	budget := Budget(int(wo.ClaimTimeoutSeconds))
	deadline := time.Now().Add(budget)
	var res Result
	switch wo.WorkType {
	case TypeCustom:
		res = r.executeCustom(ctx, wo, budget, deadline)
	case TypeBuild:
		res = r.executeBuild(ctx, wo, budget, deadline)
	default:
		return Result{Message: "Unknown work type: " + wo.WorkType}
	}
	if !res.Success && ctx.Err() != nil {
		// Interrupted, not failed: let the broker offer the order again.
		return Result{Message: "interrupted before the work order finished (agent stopping): " + res.Message, Retryable: true}
	}
	return res
}

// failure is the Result of err, classified by its text.
func failure(err error) Result {
	return Result{Message: err.Error(), Retryable: Classify(err)}
}

// finalFailure is a Result that must not be retried.
func finalFailure(format string, args ...any) Result {
	return Result{Message: fmt.Sprintf(format, args...)}
}

// Budget returns the time a claimed order may take: the claim timeout less a margin of
// 10 % of it, but at least 60 s, so the result reaches the broker before the claim lapses.
// It is never negative.
func Budget(claimTimeoutSeconds int) time.Duration {
	timeout := time.Duration(claimTimeoutSeconds) * time.Second
	margin := max(timeout/10, time.Minute)
	return max(timeout-margin, 0)
}

// Words that mark an error as permanent; they are checked first.
var nonRetryableWords = []string{
	"notfound", "not found", "forbidden", "unauthorized", "badrequest", "bad request",
	"invalid", "unprocessable", "conflict",
}

// Words that mark an error as transient.
var retryableWords = []string{
	"timeout", "unavailable", "connection", "network", "internal", "too many requests", "throttl",
}

// Classify reports whether a failure is worth retrying, judged by its lowercased text: a
// permanent marker (not found, forbidden, invalid, conflict, …) wins, then a transient one
// (timeout, unavailable, connection, …); anything else is permanent.
func Classify(err error) bool {
	if err == nil {
		return false
	}
	text := strings.ToLower(err.Error())
	for _, w := range nonRetryableWords {
		if strings.Contains(text, w) {
			return false
		}
	}
	for _, w := range retryableWords {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

func (r *Runner) log() *slog.Logger { return logx.OrDiscard(r.Log) }

func (r *Runner) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return defaultPollInterval
}

func (r *Runner) buildTimeout() time.Duration {
	if r.BuildTimeout > 0 {
		return r.BuildTimeout
	}
	return defaultBuildTimeout
}

// applyOptions are the options of every work-order apply: the agent's field manager, retries
// of transient failures that end with the budget, and an ownership check that refuses to
// write over any stack's objects (work orders re-run over their own, unannotated objects).
func (r *Runner) applyOptions(budget time.Duration) kube.ApplyOptions {
	b := kube.DefaultBackoff
	if budget < b.MaxElapsed {
		b.MaxElapsed = budget // 0: a single attempt
	}
	return kube.ApplyOptions{FieldManager: FieldManager, Backoff: b, Validate: true,
		Ownership: &kube.Ownership{Owner: r.AgentID.String(), AllowUnowned: true}}
}
