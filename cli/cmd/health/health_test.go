package health

import (
	"testing"

	"github.com/brokkr/brokkr/cli/cmdtest"
)

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
