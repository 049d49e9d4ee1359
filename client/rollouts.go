package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Rollout gates: what an agent of a wave must report before the wave counts as done.
const (
	// GateApplied: the agent reported applying the object (DEPLOY SUCCESS).
	GateApplied = "applied"
	// GateHealthy: applied, and the agent's deployment health for the object is healthy.
	GateHealthy = "healthy"
)

// PauseManual is the pause of a wave whose successor unlocks only on promote.
const PauseManual = "manual"

// ImplicitWaveName names the last wave of every rollout: the agents no wave selects.
const ImplicitWaveName = "remaining"

// Rollout statuses.
const (
	// RolloutProgressing: a wave is in flight, or a timed pause runs.
	RolloutProgressing = "progressing"
	// RolloutWaiting: a wave is done and its manual pause waits for promote.
	RolloutWaiting = "waiting"
	// RolloutPaused: paused by an operator; nothing is released until resume.
	RolloutPaused = "paused"
	// RolloutHalted: failures passed the threshold; nothing is released until resume or abort.
	RolloutHalted = "halted"
	// RolloutCompleted: every wave is done; every agent of the stack receives the object.
	RolloutCompleted = "completed"
	// RolloutAborted: every agent receives the object it had before the rollout again.
	RolloutAborted = "aborted"
	// RolloutSuperseded: a newer object of the stack started its own rollout; the agents
	// released here keep this object until that rollout releases them.
	RolloutSuperseded = "superseded"
)

// Wave states in a rollout's status.
const (
	WavePending    = "pending"
	WaveInProgress = "in_progress"
	WaveComplete   = "complete"
)

// States of an agent in a rollout's status.
const (
	// RolloutAgentWaiting: not released yet; the agent receives its previous object.
	RolloutAgentWaiting = "waiting"
	// RolloutAgentApplying: released, no outcome reported yet.
	RolloutAgentApplying = "applying"
	// RolloutAgentApplied: applied, waiting to be healthy (healthy gate).
	RolloutAgentApplied = "applied"
	// RolloutAgentPassed: the agent passed the wave's gate.
	RolloutAgentPassed = "passed"
	// RolloutAgentFailed: the agent reported a failure (DEPLOY FAILURE, or failing health
	// with the healthy gate).
	RolloutAgentFailed = "failed"
)

// Apply window kinds.
const (
	WindowAllow = "allow"
	WindowDeny  = "deny"
)

// Hold reasons.
const (
	HoldRollout = "rollout"
	HoldWindow  = "window"
)

// IntOrPercent is a count ("3" or 3 in JSON) or a percentage ("25%"). The zero value is
// unset.
type IntOrPercent string

// MarshalJSON writes a count as a JSON number and a percentage as a string.
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v == "" {
		return []byte("null"), nil
	}
	if n, err := strconv.Atoi(string(v)); err == nil {
		return []byte(strconv.Itoa(n)), nil
	}
	return json.Marshal(string(v))
}

// UnmarshalJSON reads a JSON number or string.
func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch {
	case s == "null":
		*v = ""
	case strings.HasPrefix(s, `"`):
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*v = IntOrPercent(str)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*v = IntOrPercent(n.String())
	}
	return nil
}

// Resolve returns the count v stands for out of total: a percentage is rounded down, but
// never below 1 when the percentage is above 0 (so "10%" of 5 agents is 1). ok is false
// when v is unset or malformed.
func (v IntOrPercent) Resolve(total int) (n int, ok bool) {
	s := string(v)
	if p, found := strings.CutSuffix(s, "%"); found {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return 0, false
		}
		n = int(f * float64(total) / 100)
		if n == 0 && f > 0 && total > 0 {
			n = 1
		}
		return n, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Selector selects agents: those carrying every label and every annotation it names. An
// empty selector selects every agent.
type Selector struct {
	Labels      []string          `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RolloutWave is one wave of a rollout policy.
type RolloutWave struct {
	Name     string   `json:"name"`
	Selector Selector `json:"selector"`
	// MaxUnavailable bounds the agents of the wave applying at once (released, not yet
	// passed the gate); unset releases the whole wave at once.
	MaxUnavailable IntOrPercent `json:"max_unavailable,omitempty"`
	// Gate and Pause override the policy's for this wave.
	Gate  string `json:"gate,omitempty"`
	Pause string `json:"pause,omitempty"`
}

// RolloutPolicy is how new deployment objects of a stack reach its agents: wave after
// wave, the agents no wave selects forming a last implicit wave ("remaining").
type RolloutPolicy struct {
	StackID uuid.UUID     `json:"stack_id,omitempty"`
	Waves   []RolloutWave `json:"waves"`
	// Gate is "applied" (default) or "healthy".
	Gate string `json:"gate,omitempty"`
	// Pause after each wave before the next unlocks: a duration ("10m") or "manual"
	// (promote unlocks it); default "0s".
	Pause string `json:"pause,omitempty"`
	// FailureThreshold is how many failed agents (count or percent of the stack's agents)
	// the rollout tolerates; one more halts it. Default 0.
	FailureThreshold IntOrPercent `json:"failure_threshold,omitempty"`
	CreatedAt        time.Time    `json:"created_at,omitzero"`
	UpdatedAt        time.Time    `json:"updated_at,omitzero"`
}

// RolloutWaveStatus is the progress of one wave.
type RolloutWaveStatus struct {
	Index          int          `json:"index"`
	Name           string       `json:"name"`
	Selector       Selector     `json:"selector"`
	Gate           string       `json:"gate"`
	Pause          string       `json:"pause"`
	MaxUnavailable IntOrPercent `json:"max_unavailable,omitempty"`
	State          string       `json:"state"`
	Agents         int          `json:"agents"`
	Released       int          `json:"released"`
	Applied        int          `json:"applied"`
	Passed         int          `json:"passed"`
	Failed         int          `json:"failed"`
	UnlockedAt     *time.Time   `json:"unlocked_at"`
	CompletedAt    *time.Time   `json:"completed_at"`
}

// RolloutAgent is one agent of a rollout.
type RolloutAgent struct {
	AgentID    uuid.UUID  `json:"agent_id"`
	AgentName  string     `json:"agent_name"`
	Wave       int        `json:"wave"`
	State      string     `json:"state"`
	ReleasedAt *time.Time `json:"released_at"`
	Message    string     `json:"message,omitempty"`
}

// Rollout is the progress of one deployment object through the waves of its stack's
// policy.
type Rollout struct {
	ID                 uuid.UUID           `json:"id"`
	StackID            uuid.UUID           `json:"stack_id"`
	DeploymentObjectID uuid.UUID           `json:"deployment_object_id"`
	PreviousObjectID   *uuid.UUID          `json:"previous_object_id"`
	Status             string              `json:"status"`
	CurrentWave        int                 `json:"current_wave"`
	NextWaveAt         *time.Time          `json:"next_wave_at"`
	Failures           int                 `json:"failures"`
	FailureLimit       int                 `json:"failure_limit"`
	Reason             string              `json:"reason,omitempty"`
	Policy             RolloutPolicy       `json:"policy"`
	Waves              []RolloutWaveStatus `json:"waves"`
	Agents             []RolloutAgent      `json:"agents"`
	CreatedAt          time.Time           `json:"created_at"`
	UpdatedAt          time.Time           `json:"updated_at"`
	FinishedAt         *time.Time          `json:"finished_at"`
}

// Active reports whether the rollout may still release its object.
func (r Rollout) Active() bool {
	switch r.Status {
	case RolloutProgressing, RolloutWaiting, RolloutPaused, RolloutHalted:
		return true
	}
	return false
}

// ApplyWindow is a recurring window in which agents may (allow) or may not (deny) receive
// new deployment objects.
type ApplyWindow struct {
	ID          uuid.UUID `json:"id,omitempty"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	// Schedule is a cron expression (five fields, or a descriptor such as @daily) of the
	// window's openings, in TimeZone.
	Schedule string `json:"schedule"`
	// Duration is how long the window stays open after each opening ("4h").
	Duration string `json:"duration"`
	// TimeZone is an IANA zone name; default "UTC".
	TimeZone string `json:"time_zone,omitempty"`
	// Kind is "allow" or "deny".
	Kind     string   `json:"kind"`
	Selector Selector `json:"selector"`
	// StackIDs limits the window to some stacks; empty means every stack.
	StackIDs []uuid.UUID `json:"stack_ids"`
	// Open, NextOpenAt and NextCloseAt are computed by the broker when it answers.
	Open        bool       `json:"open"`
	NextOpenAt  *time.Time `json:"next_open_at"`
	NextCloseAt *time.Time `json:"next_close_at"`
	CreatedAt   time.Time  `json:"created_at,omitzero"`
	UpdatedAt   time.Time  `json:"updated_at,omitzero"`
}

// Hold is a deployment object an agent does not receive yet, and why.
type Hold struct {
	AgentID   uuid.UUID `json:"agent_id"`
	AgentName string    `json:"agent_name"`
	StackID   uuid.UUID `json:"stack_id"`
	StackName string    `json:"stack_name"`
	// DeploymentObjectID is the object held back; ServingObjectID what the agent receives
	// instead (nil: nothing of this stack).
	DeploymentObjectID uuid.UUID  `json:"deployment_object_id"`
	ServingObjectID    *uuid.UUID `json:"serving_object_id"`
	// Reason is "rollout" or "window".
	Reason     string     `json:"reason"`
	RolloutID  *uuid.UUID `json:"rollout_id,omitempty"`
	Wave       *int       `json:"wave,omitempty"`
	WindowID   *uuid.UUID `json:"window_id,omitempty"`
	WindowName string     `json:"window_name,omitempty"`
	// Until is when the hold is expected to end (a window opening or closing, a timed
	// pause ending); nil when it waits for an operator or for other agents.
	Until *time.Time `json:"until"`
}

// CreateObjectOptions are the options of a new deployment object.
type CreateObjectOptions struct {
	DeletionMarker bool
	// Urgent objects pass through apply windows.
	Urgent bool
}

func (o CreateObjectOptions) query() url.Values {
	q := url.Values{"deletion_marker": {strconv.FormatBool(o.DeletionMarker)}}
	if o.Urgent {
		q.Set("urgent", "true")
	}
	return q
}

// CreateDeploymentObjectWithOptions is CreateDeploymentObject with the options of the new
// object.
func (s *Stacks) CreateDeploymentObjectWithOptions(ctx context.Context, id uuid.UUID, yaml string, o CreateObjectOptions) (DeploymentObject, error) {
	return call[DeploymentObject](ctx, s.c, request{method: http.MethodPost, path: path("stacks", id, "deployment-objects"),
		query: o.query(), raw: []byte(yaml), ctype: "application/yaml"})
}

// InstantiateUrgent is Instantiate for an urgent object (it passes through apply windows).
func (s *Stacks) InstantiateUrgent(ctx context.Context, stackID, templateID uuid.UUID, parameters any) (DeploymentObject, error) {
	raw, err := encodeParameters(parameters)
	if err != nil {
		return DeploymentObject{}, err
	}
	return call[DeploymentObject](ctx, s.c, request{method: http.MethodPost,
		path:  path("stacks", stackID, "deployment-objects", "from-template"),
		query: url.Values{"urgent": {"true"}},
		body:  TemplateInstantiationRequest{TemplateID: templateID, Parameters: raw}})
}

// encodeParameters is the JSON of template parameters: {} for nil.
func encodeParameters(parameters any) (RawJSON, error) {
	switch p := parameters.(type) {
	case nil:
		return RawJSON("{}"), nil
	case RawJSON:
		return p, nil
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode template parameters: %w", err)
		}
		return b, nil
	}
}

// RolloutPolicy returns the stack's rollout policy (404 when it has none).
func (s *Stacks) RolloutPolicy(ctx context.Context, id uuid.UUID) (RolloutPolicy, error) {
	return call[RolloutPolicy](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "rollout-policy")})
}

// SetRolloutPolicy sets (creates or replaces) the stack's rollout policy. It applies to
// objects posted afterwards (owner).
func (s *Stacks) SetRolloutPolicy(ctx context.Context, id uuid.UUID, p RolloutPolicy) (RolloutPolicy, error) {
	return call[RolloutPolicy](ctx, s.c, request{method: http.MethodPut, path: path("stacks", id, "rollout-policy"), body: p})
}

// DeleteRolloutPolicy removes the stack's rollout policy; rollouts under way go on (owner).
func (s *Stacks) DeleteRolloutPolicy(ctx context.Context, id uuid.UUID) error {
	_, err := s.c.do(ctx, request{method: http.MethodDelete, path: path("stacks", id, "rollout-policy"), want: []int{http.StatusNoContent}}, nil)
	return err
}

// Rollout returns the stack's latest rollout with its waves and agents (404 when none).
func (s *Stacks) Rollout(ctx context.Context, id uuid.UUID) (Rollout, error) {
	return call[Rollout](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "rollout")})
}

// Rollouts returns the stack's rollouts, newest first, without their agents.
func (s *Stacks) Rollouts(ctx context.Context, id uuid.UUID) ([]Rollout, error) {
	return call[[]Rollout](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "rollouts")})
}

// RolloutAction acts on the stack's latest rollout: "promote" (unlock the next wave now),
// "pause", "resume" or "abort"; it returns the rollout after the action (owner).
func (s *Stacks) RolloutAction(ctx context.Context, id uuid.UUID, action string) (Rollout, error) {
	return call[Rollout](ctx, s.c, request{method: http.MethodPost, path: path("stacks", id, "rollout", action)})
}

// Holds returns the stack's objects held back from agents, per agent (owner).
func (s *Stacks) Holds(ctx context.Context, id uuid.UUID) ([]Hold, error) {
	return call[[]Hold](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "holds")})
}

// Holds returns the objects held back from the agent (admin, or the agent itself).
func (a *Agents) Holds(ctx context.Context, id uuid.UUID) ([]Hold, error) {
	return call[[]Hold](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "holds")})
}

// ApplyWindows is the apply-window part of the API (/apply-windows).
type ApplyWindows struct{ c *Client }

// ApplyWindows returns the apply-window part of the API.
func (c *Client) ApplyWindows() *ApplyWindows { return &ApplyWindows{c: c} }

// List returns every apply window, by name (admin).
func (w *ApplyWindows) List(ctx context.Context) ([]ApplyWindow, error) {
	return call[[]ApplyWindow](ctx, w.c, request{method: http.MethodGet, path: "/apply-windows"})
}

// Get returns one apply window (admin).
func (w *ApplyWindows) Get(ctx context.Context, id uuid.UUID) (ApplyWindow, error) {
	return call[ApplyWindow](ctx, w.c, request{method: http.MethodGet, path: path("apply-windows", id)})
}

// Create creates an apply window (admin).
func (w *ApplyWindows) Create(ctx context.Context, win ApplyWindow) (ApplyWindow, error) {
	return call[ApplyWindow](ctx, w.c, request{method: http.MethodPost, path: "/apply-windows", body: win})
}

// Delete deletes an apply window (admin).
func (w *ApplyWindows) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := w.c.do(ctx, request{method: http.MethodDelete, path: path("apply-windows", id), want: []int{http.StatusNoContent}}, nil)
	return err
}
