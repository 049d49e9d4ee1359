// Package audit records the broker's audit log: the vocabulary of audited actions, and the
// writer that stores entries in batches without blocking requests, makes whatever a client
// sent storable, and rate-limits failed authentications per client address.
package audit

import (
	"github.com/google/uuid"
)

// Audit actions (audit_logs.action).
const (
	PAKCreated            = "pak.created"
	PAKRotated            = "pak.rotated"
	AuthFailed            = "auth.failed"
	AgentCreated          = "agent.created"
	AgentUpdated          = "agent.updated"
	AgentDeleted          = "agent.deleted"
	AgentRegistered       = "agent.registered"
	AgentDeregistered     = "agent.deregistered"
	StackCreated          = "stack.created"
	StackUpdated          = "stack.updated"
	StackDeleted          = "stack.deleted"
	GeneratorCreated      = "generator.created"
	GeneratorUpdated      = "generator.updated"
	GeneratorDeleted      = "generator.deleted"
	TemplateCreated       = "template.created"
	TemplateUpdated       = "template.updated"
	TemplateDeleted       = "template.deleted"
	WebhookCreated        = "webhook.created"
	WebhookUpdated        = "webhook.updated"
	WebhookDeleted        = "webhook.deleted"
	WebhookDeliveryFailed = "webhook.delivery_failed"
	WorkOrderCreated      = "workorder.created"
	WorkOrderClaimed      = "workorder.claimed"
	WorkOrderCompleted    = "workorder.completed"
	WorkOrderFailed       = "workorder.failed"
	WorkOrderRetry        = "workorder.retry"
	ConfigReloaded        = "config.reloaded"
	ReadOnlyPAKCreated    = "read_only_pak.created"
	ReadOnlyPAKRevoked    = "read_only_pak.revoked"
	RolloutPolicySet      = "rollout_policy.set"
	RolloutPolicyDeleted  = "rollout_policy.deleted"
	RolloutPromoted       = "rollout.promoted"
	RolloutPaused         = "rollout.paused"
	RolloutResumed        = "rollout.resumed"
	RolloutAborted        = "rollout.aborted"
	ApplyWindowCreated    = "apply_window.created"
	ApplyWindowDeleted    = "apply_window.deleted"
)

// Audit resource types (audit_logs.resource_type).
const (
	ResourceAgent       = "agent"
	ResourceStack       = "stack"
	ResourceGenerator   = "generator"
	ResourceTemplate    = "template"
	ResourceWebhook     = "webhook_subscription"
	ResourceWorkOrder   = "work_order"
	ResourcePAK         = "pak"
	ResourceConfig      = "config"
	ResourceSystem      = "system"
	ResourceReadOnlyPAK = "read_only_pak"
	ResourceRollout     = "rollout"
	ResourceApplyWindow = "apply_window"
)

// Actor types (audit_logs.actor_type).
const (
	ActorAdmin     = "admin"
	ActorAgent     = "agent"
	ActorGenerator = "generator"
	ActorSystem    = "system"
)

// Entry is one audited action. The HTTP layer fills the actor and the client's address and
// user agent of a request; an entry without an actor type is the system's.
type Entry struct {
	ActorType    string // admin, agent, generator, system; "" = system
	ActorID      *uuid.UUID
	Action       string
	ResourceType string
	ResourceID   *uuid.UUID
	Details      map[string]any
	IPAddress    *string
	UserAgent    *string
}
