package specs

import (
	"strconv"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Stack is the table of stacks.
var Stack = output.Spec[client.Stack]{
	Kind: "stack",
	Name: func(s client.Stack) string { return s.Name },
	Columns: []output.Column[client.Stack]{
		output.Text("ID", func(s client.Stack) string { return s.ID.String() }),
		output.Text("NAME", func(s client.Stack) string { return s.Name }),
		output.Text("GENERATOR", func(s client.Stack) string { return s.GeneratorID.String() }),
		output.Age("AGE", func(s client.Stack) *time.Time { return &s.CreatedAt }),
		output.WideOnly(output.Age("UPDATED", func(s client.Stack) *time.Time { return &s.UpdatedAt })),
		output.WideOnly(output.Text("DESCRIPTION", func(s client.Stack) string { return output.OrDash(s.Description) })),
	},
}

// DeploymentObject is the table of deployment objects.
var DeploymentObject = output.Spec[client.DeploymentObject]{
	Kind:   "deploymentobject",
	Plural: "deployment objects",
	Name:   func(o client.DeploymentObject) string { return o.ID.String() },
	Columns: []output.Column[client.DeploymentObject]{
		output.Text("SEQ", func(o client.DeploymentObject) string { return strconv.FormatInt(o.SequenceID, 10) }),
		output.Text("ID", func(o client.DeploymentObject) string { return o.ID.String() }),
		output.Text("CHECKSUM", func(o client.DeploymentObject) string { return output.Short(o.YAMLChecksum) }),
		output.Age("CREATED", func(o client.DeploymentObject) *time.Time { return &o.CreatedAt }),
		output.Text("MARKER", func(o client.DeploymentObject) string {
			if o.IsDeletionMarker {
				return "deletion"
			}
			return "-"
		}),
		output.WideOnly(output.Text("STACK", func(o client.DeploymentObject) string { return o.StackID.String() })),
		output.WideOnly(output.Text("SIZE", func(o client.DeploymentObject) string { return strconv.Itoa(len(o.YAMLContent)) })),
		output.WideOnly(output.Text("URGENT", func(o client.DeploymentObject) string { return output.YesNo(o.Urgent) })),
	},
}

// StackHealth is the table of a stack's object health.
var StackHealth = output.Spec[client.DeploymentObjectHealthSummary]{
	Kind:   "deploymentobject",
	Plural: "health reports",
	Name:   func(h client.DeploymentObjectHealthSummary) string { return h.ID.String() },
	Columns: []output.Column[client.DeploymentObjectHealthSummary]{
		output.Text("OBJECT", func(h client.DeploymentObjectHealthSummary) string { return h.ID.String() }),
		output.Text("STATUS", func(h client.DeploymentObjectHealthSummary) string { return h.Status }),
		output.Text("HEALTHY", func(h client.DeploymentObjectHealthSummary) string { return strconv.FormatInt(h.HealthyAgents, 10) }),
		output.Text("DEGRADED", func(h client.DeploymentObjectHealthSummary) string { return strconv.FormatInt(h.DegradedAgents, 10) }),
		output.Text("FAILING", func(h client.DeploymentObjectHealthSummary) string { return strconv.FormatInt(h.FailingAgents, 10) }),
	},
}

// HealthRecord is the table of per-agent health reports on one deployment object.
var HealthRecord = output.Spec[client.DeploymentHealth]{
	Kind:   "health",
	Plural: "health reports",
	Name:   func(h client.DeploymentHealth) string { return h.AgentID.String() },
	Columns: []output.Column[client.DeploymentHealth]{
		output.Text("AGENT", func(h client.DeploymentHealth) string { return h.AgentID.String() }),
		output.Text("STATUS", func(h client.DeploymentHealth) string { return h.Status }),
		output.Age("CHECKED", func(h client.DeploymentHealth) *time.Time { return &h.CheckedAt }),
		output.Text("SUMMARY", func(h client.DeploymentHealth) string { return output.OrDash(h.Summary) }),
	},
}

// K8sEvent is the table of the Kubernetes events agents forward.
var K8sEvent = output.Spec[client.AgentK8sEvent]{
	Kind: "event",
	Name: func(e client.AgentK8sEvent) string { return e.ID.String() },
	Columns: []output.Column[client.AgentK8sEvent]{
		output.Age("OBSERVED", func(e client.AgentK8sEvent) *time.Time { return &e.ObservedAt }),
		output.Text("TYPE", func(e client.AgentK8sEvent) string { return e.EventType }),
		output.Text("REASON", func(e client.AgentK8sEvent) string { return e.Reason }),
		output.Text("OBJECT", func(e client.AgentK8sEvent) string { return ObjectRef(e.InvolvedObject) }),
		output.Text("MESSAGE", func(e client.AgentK8sEvent) string { return e.Message }),
		output.WideOnly(output.Text("AGENT", func(e client.AgentK8sEvent) string { return e.AgentID.String() })),
	},
}

// ObjectRef renders a Kubernetes object reference as [namespace/]kind/name.
func ObjectRef(r client.K8sObjectRef) string {
	s := r.Kind + "/" + r.Name
	if r.Namespace != nil && *r.Namespace != "" {
		s = *r.Namespace + "/" + s
	}
	return s
}
