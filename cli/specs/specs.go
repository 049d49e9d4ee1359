// Package specs describes how brokkrctl prints each API type: the columns of its table, its
// -o wide extras, the name -o name prints and the plural of "No ... found.". Every command
// that prints a type uses the one Spec here, so the same object looks the same everywhere
// (an agent's stacks and stack list, object get and agent target-state, ...).
package specs

import (
	"strconv"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Generator is the table of generators.
var Generator = output.Spec[client.Generator]{
	Kind: "generator",
	Name: func(g client.Generator) string { return g.Name },
	Columns: []output.Column[client.Generator]{
		output.Text("ID", func(g client.Generator) string { return g.ID.String() }),
		output.Text("NAME", func(g client.Generator) string { return g.Name }),
		output.Text("ACTIVE", func(g client.Generator) string { return output.YesNo(g.IsActive) }),
		output.Age("LAST ACTIVE", func(g client.Generator) *time.Time { return g.LastActiveAt }),
		output.Age("AGE", func(g client.Generator) *time.Time { return &g.CreatedAt }),
		output.WideOnly(output.Text("DESCRIPTION", func(g client.Generator) string { return output.OrDash(g.Description) })),
	},
}

// Registration is the table of agent registrations with generators.
var Registration = output.Spec[client.AgentGeneratorRegistration]{
	Kind:   "registration",
	Plural: "registrations",
	Name:   func(r client.AgentGeneratorRegistration) string { return r.AgentID.String() },
	Columns: []output.Column[client.AgentGeneratorRegistration]{
		output.Text("AGENT", func(r client.AgentGeneratorRegistration) string { return r.AgentID.String() }),
		output.Text("GENERATOR", func(r client.AgentGeneratorRegistration) string { return r.GeneratorID.String() }),
		output.Age("REGISTERED", func(r client.AgentGeneratorRegistration) *time.Time { return &r.RegisteredAt }),
	},
}

// Template is the table of template versions.
var Template = output.Spec[client.StackTemplate]{
	Kind: "template",
	Name: func(t client.StackTemplate) string { return t.ID.String() },
	Columns: []output.Column[client.StackTemplate]{
		output.Text("ID", func(t client.StackTemplate) string { return t.ID.String() }),
		output.Text("NAME", func(t client.StackTemplate) string { return t.Name }),
		output.Text("VERSION", func(t client.StackTemplate) string { return strconv.Itoa(int(t.Version)) }),
		output.Text("OWNER", func(t client.StackTemplate) string {
			if t.GeneratorID == nil {
				return "system"
			}
			return t.GeneratorID.String()
		}),
		output.Age("AGE", func(t client.StackTemplate) *time.Time { return &t.CreatedAt }),
		output.WideOnly(output.Text("CHECKSUM", func(t client.StackTemplate) string { return output.Short(t.Checksum) })),
		output.WideOnly(output.Text("DESCRIPTION", func(t client.StackTemplate) string { return output.OrDash(t.Description) })),
	},
}

// PAK is the table of PAK holders.
var PAK = output.Spec[client.PakSummary]{
	Kind:   "generator",
	Plural: "PAK holders",
	Name:   func(p client.PakSummary) string { return p.Name },
	Columns: []output.Column[client.PakSummary]{
		output.Text("ID", func(p client.PakSummary) string { return p.ID.String() }),
		output.Text("NAME", func(p client.PakSummary) string { return p.Name }),
	},
}
