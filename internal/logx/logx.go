// Package logx holds the attribute keys brokkr's processes log with, so that one concept
// has one key in every record: an error is always "error", a stack's id always "stack_id".
//
// Records pass ids and errors through the constructors below (or the Key constants, for an
// attribute built another way) instead of spelling keys out.
package logx

import (
	"fmt"
	"log/slog"
)

// Attribute keys.
const (
	// KeyError is the error that made the record.
	KeyError = "error"
	// KeyAgentID is an agent's id.
	KeyAgentID = "agent_id"
	// KeyStackID is a stack's id.
	KeyStackID = "stack_id"
	// KeyDeploymentObjectID is a deployment object's id.
	KeyDeploymentObjectID = "deployment_object_id"
	// KeyWorkOrderID is a work order's id.
	KeyWorkOrderID = "work_order_id"
	// KeyGeneratorID is a generator's id.
	KeyGeneratorID = "generator_id"
	// KeyDeliveryID is a webhook delivery's id.
	KeyDeliveryID = "delivery_id"
	// KeyObject is a Kubernetes object, as kind namespace/name.
	KeyObject = "object"
)

// Err is the attribute of an error.
func Err(err error) slog.Attr { return slog.Any(KeyError, err) }

// AgentID is the attribute of an agent's id.
func AgentID(id fmt.Stringer) slog.Attr { return slog.String(KeyAgentID, id.String()) }

// StackID is the attribute of a stack's id.
func StackID(id fmt.Stringer) slog.Attr { return slog.String(KeyStackID, id.String()) }

// DeploymentObjectID is the attribute of a deployment object's id.
func DeploymentObjectID(id fmt.Stringer) slog.Attr {
	return slog.String(KeyDeploymentObjectID, id.String())
}

// WorkOrderID is the attribute of a work order's id.
func WorkOrderID(id fmt.Stringer) slog.Attr { return slog.String(KeyWorkOrderID, id.String()) }

// GeneratorID is the attribute of a generator's id.
func GeneratorID(id fmt.Stringer) slog.Attr { return slog.String(KeyGeneratorID, id.String()) }

// DeliveryID is the attribute of a webhook delivery's id.
func DeliveryID(id fmt.Stringer) slog.Attr { return slog.String(KeyDeliveryID, id.String()) }

// Object is the attribute of a Kubernetes object.
func Object(ref fmt.Stringer) slog.Attr { return slog.String(KeyObject, ref.String()) }

// OrDiscard returns l, or a logger that discards every record when l is nil: components whose
// logger is optional document that a nil one discards.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
