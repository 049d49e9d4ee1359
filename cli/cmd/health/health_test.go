package health

import (
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
)

func TestNewCmdObjectHealth(t *testing.T) {
	id := uuid.MustParse("9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d")
	cmdtest.RunTable(t, NewCmdObjectHealth, func(o *ObjectOptions) { o.Factory = nil }, []cmdtest.FlagCase[ObjectOptions]{
		{Name: "json", Args: []string{id.String(), "-o", "json"}, Want: ObjectOptions{ID: id, Format: output.FormatJSON}},
		{Name: "defaults", Args: []string{id.String()}, Want: ObjectOptions{ID: id, Format: output.FormatTable}},
		{Name: "not a uuid", Args: []string{"web"}, WantErr: true},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{id.String(), "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdHealthTree(t *testing.T) {
	root := NewCmdHealth(cmdtest.Factory(false, ""))
	if len(root.Commands()) != 2 {
		t.Fatalf("health has %d verbs, want object and stack", len(root.Commands()))
	}
	for _, c := range root.Commands() {
		// Each verb takes exactly one argument and validates -o before reaching the broker.
		for _, args := range [][]string{{c.Name()}, {c.Name(), "a", "-o", "x"}} {
			cmdtest.WantFlagError(t, args, cmdtest.Execute(NewCmdHealth(cmdtest.Factory(false, "")), args))
		}
	}
}
