package specs

import (
	"strconv"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Agent is the table of agents.
var Agent = output.Spec[client.Agent]{
	Kind: "agent",
	Name: func(a client.Agent) string { return a.ID.String() },
	Columns: []output.Column[client.Agent]{
		output.Text("ID", func(a client.Agent) string { return a.ID.String() }),
		output.Text("NAME", func(a client.Agent) string { return a.Name }),
		output.Text("CLUSTER", func(a client.Agent) string { return a.ClusterName }),
		output.Text("STATUS", func(a client.Agent) string { return a.Status }),
		output.Age("HEARTBEAT", func(a client.Agent) *time.Time { return a.LastHeartbeat }),
		output.Age("AGE", func(a client.Agent) *time.Time { return &a.CreatedAt }),
		output.WideOnly(output.Text("K8S", func(a client.Agent) string { return output.BoolPtr(a.K8sReachable) })),
		output.WideOnly(output.Text("LATENCY MS", func(a client.Agent) string { return output.IntPtr(a.K8sAPILatencyMs) })),
	},
}

// AgentEvent is the table of the events agents report about deployment objects.
var AgentEvent = output.Spec[client.AgentEvent]{
	Kind: "agentevent",
	Name: func(e client.AgentEvent) string { return e.ID.String() },
	Columns: []output.Column[client.AgentEvent]{
		output.Text("ID", func(e client.AgentEvent) string { return e.ID.String() }),
		output.Text("OBJECT", func(e client.AgentEvent) string { return e.DeploymentObjectID.String() }),
		output.Text("TYPE", func(e client.AgentEvent) string { return e.EventType }),
		output.Text("STATUS", func(e client.AgentEvent) string { return e.Status }),
		output.Age("AGE", func(e client.AgentEvent) *time.Time { return &e.CreatedAt }),
		output.Text("MESSAGE", func(e client.AgentEvent) string { return output.OrDash(e.Message) }),
		output.WideOnly(output.Text("AGENT", func(e client.AgentEvent) string { return e.AgentID.String() })),
	},
}

// AgentTarget is the table of an agent's explicit targets.
var AgentTarget = output.Spec[client.AgentTarget]{
	Kind: "target",
	Name: func(t client.AgentTarget) string { return t.StackID.String() },
	Columns: []output.Column[client.AgentTarget]{
		output.Text("STACK", func(t client.AgentTarget) string { return t.StackID.String() }),
		output.Text("AGENT", func(t client.AgentTarget) string { return t.AgentID.String() }),
		output.WideOnly(output.Text("ID", func(t client.AgentTarget) string { return t.ID.String() })),
	},
}

// Fleet is the table of fleet records.
var Fleet = output.Spec[client.FleetAgentRecord]{
	Kind:   "agent",
	Plural: "agents",
	Name:   func(r client.FleetAgentRecord) string { return r.AgentID.String() },
	Columns: []output.Column[client.FleetAgentRecord]{
		output.Text("AGENT", func(r client.FleetAgentRecord) string { return r.AgentID.String() }),
		output.Text("NAME", func(r client.FleetAgentRecord) string { return r.Name }),
		output.Text("CLUSTER", func(r client.FleetAgentRecord) string { return r.ClusterName }),
		output.Text("STATUS", func(r client.FleetAgentRecord) string { return r.Status }),
		output.Text("CONNECTED", func(r client.FleetAgentRecord) string { return output.YesNo(r.WSConnected) }),
		output.Age("HEARTBEAT", func(r client.FleetAgentRecord) *time.Time { return r.LastHeartbeat }),
		output.Text("PENDING", func(r client.FleetAgentRecord) string { return strconv.FormatInt(r.PendingObjectCount, 10) }),
		output.Text("WORK", func(r client.FleetAgentRecord) string {
			return strconv.FormatInt(r.PendingWorkOrders, 10) + "/" + strconv.FormatInt(r.ClaimedWorkOrders, 10)
		}),
		output.Text("FAILING", func(r client.FleetAgentRecord) string { return strconv.FormatInt(r.HealthFailing, 10) }),
		output.WideOnly(output.Text("DEGRADED", func(r client.FleetAgentRecord) string { return strconv.FormatInt(r.HealthDegraded, 10) })),
		output.WideOnly(output.Age("LAST EVENT", func(r client.FleetAgentRecord) *time.Time { return r.LastEventAt })),
		output.WideOnly(output.Text("K8S", func(r client.FleetAgentRecord) string { return output.BoolPtr(r.K8sReachable) })),
		output.WideOnly(output.Text("LATENCY MS", func(r client.FleetAgentRecord) string { return output.IntPtr(r.K8sAPILatencyMs) })),
	},
}
