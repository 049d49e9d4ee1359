package specs

import (
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// ReadOnlyPAK is the table of named read-only PAKs (never the keys).
var ReadOnlyPAK = output.Spec[client.ReadOnlyPAK]{
	Kind:   "read-only-pak",
	Plural: "read-only PAKs",
	Name:   func(k client.ReadOnlyPAK) string { return k.Name },
	Columns: []output.Column[client.ReadOnlyPAK]{
		output.Text("NAME", func(k client.ReadOnlyPAK) string { return k.Name }),
		output.Text("ID", func(k client.ReadOnlyPAK) string { return k.ID.String() }),
		output.Age("AGE", func(k client.ReadOnlyPAK) *time.Time { return &k.CreatedAt }),
	},
}
