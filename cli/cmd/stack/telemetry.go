package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// HealthSpec is the table of a stack's object health.
var HealthSpec = output.Spec[client.DeploymentObjectHealthSummary]{
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

// HealthOptions are the inputs of stack health.
type HealthOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdHealth returns stack health; runF replaces the run function in tests.
func NewCmdHealth(f *cmdutil.Factory, runF func(*HealthOptions) error) *cobra.Command {
	opts := &HealthOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "health NAME|ID",
		Short:             "Show the health agents report for a stack's objects",
		Example:           "  brokkrctl stack health web\n  brokkrctl stack health web -o json",
		Args:              cmdutil.ExactArgs(1, "stack NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteStacks(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.StackID(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			h, err := c.Stacks().Health(cmd.Context(), id)
			if err != nil {
				return err
			}
			return PrintStackHealth(output.NewPrinter(f, opts.Format), h)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// PrintStackHealth prints a stack's health: the wire object for json and yaml, otherwise the
// overall status on stderr and a table of objects.
func PrintStackHealth(p *output.Printer, h client.StackHealthResponse) error {
	switch p.Format {
	case output.FormatJSON:
		return output.WriteJSON(p.IO.Out, h)
	case output.FormatYAML:
		return output.WriteYAML(p.IO.Out, h)
	case output.FormatName:
		return output.PrintList(p, HealthSpec, h.DeploymentObjects)
	}
	fmt.Fprintf(p.IO.ErrOut, "Stack %s: %s\n", h.StackID, h.OverallStatus)
	return output.PrintList(p, HealthSpec, h.DeploymentObjects)
}

type telemetryKind int

const (
	telemetryEvents telemetryKind = iota
	telemetryLogs
)

// TelemetryOptions are the inputs of stack events and stack logs.
type TelemetryOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Logs    bool
	Since   time.Time
	Limit   int
	Follow  bool
	Format  output.Format
}

// EventSpec is the table of forwarded Kubernetes events.
var EventSpec = output.Spec[client.AgentK8sEvent]{
	Kind: "event",
	Name: func(e client.AgentK8sEvent) string { return e.ID.String() },
	Columns: []output.Column[client.AgentK8sEvent]{
		output.Age("OBSERVED", func(e client.AgentK8sEvent) *time.Time { return &e.ObservedAt }),
		output.Text("TYPE", func(e client.AgentK8sEvent) string { return e.EventType }),
		output.Text("REASON", func(e client.AgentK8sEvent) string { return e.Reason }),
		output.Text("OBJECT", func(e client.AgentK8sEvent) string { return objectRef(e.InvolvedObject) }),
		output.Text("MESSAGE", func(e client.AgentK8sEvent) string { return e.Message }),
		output.WideOnly(output.Text("AGENT", func(e client.AgentK8sEvent) string { return e.AgentID.String() })),
	},
}

func objectRef(r client.K8sObjectRef) string {
	s := r.Kind + "/" + r.Name
	if r.Namespace != nil && *r.Namespace != "" {
		s = *r.Namespace + "/" + s
	}
	return s
}

// ParseSince accepts a duration back from now ("15m") or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, cmdutil.FlagErrorf("invalid --since %q: want a duration such as 15m or an RFC 3339 time", s)
}

// NewCmdTelemetry returns stack events or stack logs; runF replaces the run function in
// tests.
func NewCmdTelemetry(f *cmdutil.Factory, runF func(*TelemetryOptions) error, kind telemetryKind) *cobra.Command {
	opts := &TelemetryOptions{Factory: f, Logs: kind == telemetryLogs}
	var since string
	cmd := &cobra.Command{
		Use:   "events NAME|ID",
		Short: "Show the Kubernetes events agents forwarded for a stack",
		Long: `Show the Kubernetes events agents forwarded for a stack, oldest first. The broker keeps a
few hours of telemetry. --follow keeps the command running and prints new events as they
arrive over the stack's live channel.`,
		Example:           "  brokkrctl stack events web --since 30m\n  brokkrctl stack events web --follow",
		Args:              cmdutil.ExactArgs(1, "stack NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteStacks(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			now := time.Now()
			if f.Now != nil {
				now = f.Now()
			}
			t, err := ParseSince(since, now)
			if err != nil {
				return err
			}
			opts.Since = t
			if opts.Limit < 0 || opts.Limit > 5000 {
				return cmdutil.FlagErrorf("--limit must be within 1..5000")
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runTelemetry(cmd.Context(), opts)
		},
	}
	if opts.Logs {
		cmd.Use = "logs NAME|ID"
		cmd.Short = "Show the pod log lines agents forwarded for a stack"
		cmd.Long = `Show the pod log lines agents forwarded for a stack, oldest first, as
"namespace/pod/container: line". The broker keeps a few hours of telemetry. --follow keeps
the command running and prints new lines as they arrive over the stack's live channel.`
		cmd.Example = "  brokkrctl stack logs web --since 10m --limit 200\n  brokkrctl stack logs web -f"
	}
	cmd.Flags().StringVar(&since, "since", "", "Only rows newer than a duration ago (15m) or an RFC 3339 time")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "Most rows to show (default 500)")
	if opts.Logs {
		cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "Keep streaming new rows")
	} else {
		cmd.Flags().BoolVar(&opts.Follow, "follow", false, "Keep streaming new rows")
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runTelemetry(ctx context.Context, opts *TelemetryOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	id, err := resource.StackID(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	var sub *client.Subscription
	if opts.Follow {
		// Subscribe before reading history, so nothing falls between the two.
		if sub, err = c.Live().Stack(ctx, id); err != nil {
			return err
		}
		defer func() { _ = sub.Close() }()
	}
	p := output.NewPrinter(f, opts.Format)
	q := &client.TelemetryOptions{Since: opts.Since, Limit: opts.Limit}
	if opts.Logs {
		h, err := c.Stacks().Logs(ctx, id, q)
		if err != nil {
			return err
		}
		lines := slices.Clone(h.Lines)
		slices.Reverse(lines)
		if !opts.Follow && (opts.Format == output.FormatJSON || opts.Format == output.FormatYAML) {
			return printWire(p, h)
		}
		for _, l := range lines {
			if err := printLogLine(p, l.Namespace, l.Pod, l.Container, l.TS, l.Line, l); err != nil {
				return err
			}
		}
	} else {
		h, err := c.Stacks().Events(ctx, id, q)
		if err != nil {
			return err
		}
		events := slices.Clone(h.Events)
		slices.Reverse(events)
		if !opts.Follow {
			if opts.Format == output.FormatJSON || opts.Format == output.FormatYAML {
				return printWire(p, h)
			}
			return output.PrintList(p, EventSpec, events)
		}
		for _, e := range events {
			if err := printEvent(p, e); err != nil {
				return err
			}
		}
	}
	if !opts.Follow {
		return nil
	}
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch m.Type {
		case client.WSK8sEvent:
			if opts.Logs {
				continue
			}
			var e client.K8sEvent
			if err := m.Decode(&e); err != nil {
				return err
			}
			if err := printEvent(p, client.AgentK8sEvent{AgentID: e.AgentID, StackID: e.StackID, ObservedAt: e.ObservedAt,
				Reason: e.Reason, Message: e.Message, EventType: e.EventType, Source: e.Source, InvolvedObject: e.InvolvedObject}); err != nil {
				return err
			}
		case client.WSPodLogLine:
			if !opts.Logs {
				continue
			}
			var l client.PodLogLine
			if err := m.Decode(&l); err != nil {
				return err
			}
			if err := printLogLine(p, l.Namespace, l.Pod, l.Container, l.TS, l.Line, l); err != nil {
				return err
			}
		case client.WSLogGap:
			var g client.LogGap
			if err := m.Decode(&g); err == nil {
				fmt.Fprintf(p.IO.ErrOut, "%s %d rows dropped since %s (%s)\n", p.IO.ColorScheme().WarningIcon(),
					g.DroppedCount, g.SinceTS.UTC().Format(time.RFC3339), g.Reason)
			}
		}
	}
}

func printWire(p *output.Printer, v any) error {
	if p.Format == output.FormatYAML {
		return output.WriteYAML(p.IO.Out, v)
	}
	return output.WriteJSON(p.IO.Out, v)
}

// printEvent prints one event as a line (JSON lines with -o json).
func printEvent(p *output.Printer, e client.AgentK8sEvent) error {
	if p.Format == output.FormatJSON || p.Format == output.FormatYAML {
		return writeJSONLine(p.IO.Out, e)
	}
	ts := e.ObservedAt.UTC().Format(time.RFC3339)
	_, err := fmt.Fprintf(p.IO.Out, "%s  %-7s  %s  %s: %s\n", ts, e.EventType, e.Reason, objectRef(e.InvolvedObject), strings.TrimSpace(e.Message))
	return err
}

func printLogLine(p *output.Printer, ns, pod, container string, ts time.Time, line string, raw any) error {
	if p.Format == output.FormatJSON || p.Format == output.FormatYAML {
		return writeJSONLine(p.IO.Out, raw)
	}
	prefix := ns + "/" + pod + "/" + container
	if p.Format == output.FormatWide {
		prefix = ts.UTC().Format(time.RFC3339Nano) + " " + prefix
	}
	_, err := fmt.Fprintf(p.IO.Out, "%s: %s\n", p.IO.ColorScheme().Gray(prefix), strings.TrimRight(line, "\n"))
	return err
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
