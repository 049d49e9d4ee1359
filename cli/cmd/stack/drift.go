package stack

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// DriftOptions are the inputs of stack drift.
type DriftOptions = verb.RefOptions

// NewCmdDrift returns stack drift; runF replaces the run function in tests.
func NewCmdDrift(f *cmdutil.Factory, runF func(*DriftOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:   "drift NAME|ID",
		Short: "Show the objects of a stack that drifted from their manifest",
		Long: `Show, per agent, the objects of the stack's latest deployment object whose live state
differs from what the manifest sets, with the field paths that differ. Only fields the
manifest sets count: defaulted fields, status and fields other controllers own never do.
STATUS is DRIFTED (reported) or CORRECTED (applied again, drift policy "correct"); objects
that match their manifest again are not listed. An empty list is not an error: the exit
code is 0 either way.`,
		Example: "  brokkrctl stack drift web\n  brokkrctl stack drift web -o json",
	}, stackArg(f), verb.Then(resolve.StackID, func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.StackDrift, error) {
		return c.Stacks().Drift(ctx, id)
	}), PrintStackDrift)
}

// PrintStackDrift prints a stack's drift: the wire list for json and yaml, otherwise one row
// per agent and drifted object.
func PrintStackDrift(p *output.Printer, drifts []client.StackDrift) error {
	if drifts == nil {
		drifts = []client.StackDrift{}
	}
	if ok, err := p.PrintWire(drifts); ok {
		return err
	}
	return output.PrintList(p, specs.Drift, specs.DriftRows(drifts))
}

// StackDetail is what stack get prints: the stack, and what it depends on and which agents
// wait for those stacks. Its JSON is the stack's with "dependencies" added.
type StackDetail struct {
	client.Stack
	// Dependencies is nil when the broker does not tell them (an older broker, or a key
	// that may not read them).
	Dependencies *client.StackDependencies `json:"dependencies,omitempty"`
	// Holds are the stack's objects held back from agents (tables summarize them; "stack
	// holds" lists them).
	Holds resolve.Holds `json:"-"`
}

// getStackDetail reads the stack named by ref, its dependencies and its holds.
func getStackDetail(ctx context.Context, c *client.Client, ref string) (StackDetail, error) {
	st, err := resolve.Stack(ctx, c, ref)
	if err != nil {
		return StackDetail{}, err
	}
	holds := stackHolds(ctx, c, st.ID, nil)
	deps, err := c.Stacks().Dependencies(ctx, st.ID)
	switch {
	case err == nil:
		return StackDetail{Stack: st, Dependencies: &deps, Holds: holds}, nil
	case client.IsNotFound(err), client.IsForbidden(err):
		return StackDetail{Stack: st, Holds: holds}, nil
	}
	return StackDetail{}, fmt.Errorf("dependencies of stack %s: %w", st.Name, err)
}

// printStackDetail prints the stack's table, then how many agents do not receive its latest
// object yet and why, and, when it has dependencies or waiting agents, the stacks it depends
// on and the table of what each agent waits for.
func printStackDetail(p *output.Printer, d StackDetail) error {
	if ok, err := p.PrintWire(d); ok {
		return err
	}
	if err := output.PrintOne(p, specs.Stack, d.Stack); err != nil || p.Format == output.FormatName {
		return err
	}
	if held := specs.HoldSummary(d.Holds); held != "" {
		fmt.Fprintf(p.IO.Out, "\nHeld: %s (see brokkrctl stack holds %s)\n", held, d.Name)
	}
	deps := d.Dependencies
	if deps == nil || (len(deps.DependsOn) == 0 && len(deps.Waiting) == 0) {
		return nil
	}
	names := make([]string, 0, len(deps.DependsOn))
	for _, s := range deps.DependsOn {
		names = append(names, s.Name)
	}
	on := "none"
	if len(names) > 0 {
		on = strings.Join(names, ", ")
	}
	fmt.Fprintf(p.IO.Out, "\nDepends on: %s\n", on)
	if len(deps.Waiting) == 0 {
		fmt.Fprintln(p.IO.Out, "Waiting: no agent")
		return nil
	}
	fmt.Fprintf(p.IO.Out, "Waiting: %s\n", plural(len(deps.Waiting), "agent"))
	return output.PrintList(p, specs.Waiting, specs.WaitRows(deps.Waiting))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
