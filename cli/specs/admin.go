package specs

import (
	"strconv"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Audit is the table of audit entries.
var Audit = output.Spec[client.AuditLogEntry]{
	Kind:   "audit",
	Plural: "audit entries",
	Name:   func(e client.AuditLogEntry) string { return e.ID.String() },
	Columns: []output.Column[client.AuditLogEntry]{
		output.Age("TIME", func(e client.AuditLogEntry) *time.Time { return &e.Timestamp }),
		output.Text("ACTOR", func(e client.AuditLogEntry) string {
			s := e.ActorType
			if e.ActorName != nil && *e.ActorName != "" {
				s += ":" + *e.ActorName
			} else if e.ActorID != nil {
				s += ":" + e.ActorID.String()
			}
			return s
		}),
		output.Text("ACTION", func(e client.AuditLogEntry) string { return e.Action }),
		output.Text("RESOURCE", func(e client.AuditLogEntry) string {
			if e.ResourceID == nil {
				return e.ResourceType
			}
			return e.ResourceType + "/" + e.ResourceID.String()
		}),
		output.WideOnly(output.Text("ID", func(e client.AuditLogEntry) string { return e.ID.String() })),
		output.WideOnly(output.Text("IP", func(e client.AuditLogEntry) string { return output.OrDash(e.IPAddress) })),
		output.WideOnly(output.Text("DETAILS", func(e client.AuditLogEntry) string {
			if len(e.Details) == 0 || string(e.Details) == "null" {
				return "-"
			}
			return string(e.Details)
		})),
	},
}

// ConfigChange is the table of the broker settings a configuration reload changed.
var ConfigChange = output.Spec[client.ConfigChange]{
	Kind:   "setting",
	Plural: "changed settings",
	Name:   func(c client.ConfigChange) string { return c.Key },
	Columns: []output.Column[client.ConfigChange]{
		output.Text("KEY", func(c client.ConfigChange) string { return c.Key }),
		output.Text("OLD", func(c client.ConfigChange) string { return c.OldValue }),
		output.Text("NEW", func(c client.ConfigChange) string { return c.NewValue }),
	},
}

// WSConnection is the table of agent connections to a broker replica.
var WSConnection = output.Spec[client.WSConnection]{
	Kind:   "agent",
	Plural: "agent connections",
	Name:   func(c client.WSConnection) string { return c.AgentID.String() },
	Columns: []output.Column[client.WSConnection]{
		output.Text("AGENT", func(c client.WSConnection) string { return c.AgentID.String() }),
		output.Age("CONNECTED", func(c client.WSConnection) *time.Time { return &c.ConnectedSince }),
		output.Text("IN", func(c client.WSConnection) string { return strconv.FormatInt(c.MessagesIn, 10) }),
		output.Text("OUT", func(c client.WSConnection) string { return strconv.FormatInt(c.MessagesOut, 10) }),
	},
}
