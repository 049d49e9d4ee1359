// Package fleet implements "brokkrctl fleet": the fleet overview of every agent's measured
// signals, as a list or streamed live.
package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/cli/watch"
	"github.com/brokkr/brokkr/client"
)

// NewCmdFleet returns the fleet noun.
func NewCmdFleet(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet <command>",
		Short: "Watch the fleet of agents",
		Long: `Show every agent's fleet record: connection, heartbeat, pending objects and work orders,
health counts and Kubernetes reachability.`,
		Example: "  brokkrctl fleet list -o wide\n  brokkrctl fleet watch",
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdWatch(f, nil))
	return cmd
}

// ListOptions are the inputs of fleet list.
type ListOptions struct {
	Factory   *cmdutil.Factory
	Generator string
	Format    output.Format
}

// NewCmdList returns fleet list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the fleet record of every agent",
		Example: "  brokkrctl fleet list\n  brokkrctl fleet list --generator ci -o json",
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList})
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Only agents registered with this generator (name or id)")
	_ = cmd.RegisterFlagCompletionFunc("generator", complete.Generators(f))
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.Fleet, func(ctx context.Context, c *client.Client) ([]client.FleetAgentRecord, error) {
		gen, err := resolve.OptionalGeneratorID(ctx, c, opts.Generator)
		if err != nil {
			return nil, err
		}
		return c.Fleet().List(ctx, gen)
	})
}

// WatchOptions are the inputs of fleet watch.
type WatchOptions = verb.FormatOptions

// NewCmdWatch returns fleet watch; runF replaces the run function in tests.
func NewCmdWatch(f *cmdutil.Factory, runF func(*WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{Factory: f}
	return verb.NoArg(&cobra.Command{
		Use:   "watch",
		Short: "Stream fleet updates",
		Long: `Stream fleet updates over the broker's live channel. On a terminal the fleet table is
redrawn whenever an agent's record changes; otherwise every update is printed as one line of
JSON (the fleet record). Stop with Ctrl-C.`,
		Example: "  brokkrctl fleet watch\n  brokkrctl fleet watch | jq -c 'select(.ws_connected == false)'",
	}, verb.Setup[WatchOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runWatch})
}

func runWatch(ctx context.Context, opts *WatchOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	sub, err := c.Live().Fleet(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Close() }()
	ios := f.IOStreams
	table := ios.IsStdoutTTY() && (opts.Format == output.FormatTable || opts.Format == output.FormatWide)
	records := map[uuid.UUID]client.FleetAgentRecord{}
	p := output.NewPrinter(f, opts.Format)
	if table {
		initial, err := c.Fleet().List(ctx, nil)
		if err != nil {
			return err
		}
		for _, r := range initial {
			records[r.AgentID] = r
		}
		if err := redraw(p, records); err != nil {
			return err
		}
	}
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Type != client.WSFleetUpdate {
			continue
		}
		if !table {
			var buf bytes.Buffer
			if err := json.Compact(&buf, m.Body); err != nil {
				return fmt.Errorf("fleet update: %w", err)
			}
			buf.WriteByte('\n')
			if _, err := ios.Out.Write(buf.Bytes()); err != nil {
				return err
			}
			continue
		}
		var r client.FleetAgentRecord
		if err := m.Decode(&r); err != nil {
			return err
		}
		records[r.AgentID] = r
		if err := redraw(p, records); err != nil {
			return err
		}
	}
}

func redraw(p *output.Printer, records map[uuid.UUID]client.FleetAgentRecord) error {
	list := make([]client.FleetAgentRecord, 0, len(records))
	for _, r := range records {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return list[i].AgentID.String() < list[j].AgentID.String()
	})
	fmt.Fprintf(p.IO.Out, "%sFleet: %d agents    %s\n\n", watch.ClearScreen, len(list), p.Now().Format(time.TimeOnly))
	return output.PrintList(p, specs.Fleet, list)
}
