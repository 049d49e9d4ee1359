package server

import (
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// Conversions from stored rows to wire types. Timestamps leave the broker in UTC.

func utc(t time.Time) time.Time { return t.UTC() }

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func toAgent(a db.Agent) client.Agent {
	return client.Agent{
		ID: a.ID, CreatedAt: utc(a.CreatedAt), UpdatedAt: utc(a.UpdatedAt), DeletedAt: utcp(a.DeletedAt),
		Name: a.Name, ClusterName: a.ClusterName, LastHeartbeat: utcp(a.LastHeartbeat), Status: a.Status,
		K8sReachable: a.K8sReachable, K8sAPILatencyMs: a.K8sAPILatencyMs, K8sReportedAt: utcp(a.K8sReportedAt),
	}
}

func toAgentLabel(l db.Label) client.AgentLabel {
	return client.AgentLabel{ID: l.ID, AgentID: l.OwnerID, Label: l.Label}
}

func toAgentAnnotation(a db.Annotation) client.AgentAnnotation {
	return client.AgentAnnotation{ID: a.ID, AgentID: a.OwnerID, Key: a.Key, Value: a.Value}
}

func toAgentTarget(t db.AgentTarget) client.AgentTarget {
	return client.AgentTarget{ID: t.ID, AgentID: t.AgentID, StackID: t.StackID}
}

func toAgentEvent(e db.AgentEvent) client.AgentEvent {
	return client.AgentEvent{
		ID: e.ID, CreatedAt: utc(e.CreatedAt), UpdatedAt: utc(e.UpdatedAt), DeletedAt: utcp(e.DeletedAt),
		AgentID: e.AgentID, DeploymentObjectID: e.DeploymentObjectID, EventType: e.EventType,
		Status: e.Status, Message: e.Message,
	}
}

func toRegistration(r db.Registration) client.AgentGeneratorRegistration {
	return client.AgentGeneratorRegistration{ID: r.ID, AgentID: r.AgentID, GeneratorID: r.GeneratorID, RegisteredAt: utc(r.RegisteredAt)}
}

func toGenerator(g db.Generator) client.Generator {
	return client.Generator{
		ID: g.ID, CreatedAt: utc(g.CreatedAt), UpdatedAt: utc(g.UpdatedAt), DeletedAt: utcp(g.DeletedAt),
		Name: g.Name, Description: g.Description, LastActiveAt: utcp(g.LastActiveAt),
		IsActive: g.IsActive, IsSystem: g.IsSystem,
	}
}

func toStack(s db.Stack) client.Stack {
	return client.Stack{
		ID: s.ID, CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt), DeletedAt: utcp(s.DeletedAt),
		Name: s.Name, Description: s.Description, GeneratorID: s.GeneratorID,
	}
}

func toStackLabel(l db.Label) client.StackLabel {
	return client.StackLabel{ID: l.ID, StackID: l.OwnerID, Label: l.Label}
}

func toStackAnnotation(a db.Annotation) client.StackAnnotation {
	return client.StackAnnotation{ID: a.ID, StackID: a.OwnerID, Key: a.Key, Value: a.Value}
}

func toDeploymentObject(o db.DeploymentObject) client.DeploymentObject {
	return client.DeploymentObject{
		ID: o.ID, CreatedAt: utc(o.CreatedAt), UpdatedAt: utc(o.UpdatedAt), DeletedAt: utcp(o.DeletedAt),
		SequenceID: o.SequenceID, StackID: o.StackID, YAMLContent: o.YAMLContent, YAMLChecksum: o.YAMLChecksum,
		SubmittedAt: utc(o.SubmittedAt), IsDeletionMarker: o.IsDeletionMarker, Urgent: o.Urgent,
	}
}
