package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

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

// ParseSince accepts a duration back from now ("15m") or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	return cmdutil.ParseTimeFlag("--since", "15m", s, now)
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
		Example: "  brokkrctl stack events web --since 30m\n  brokkrctl stack events web --follow",
	}
	if opts.Logs {
		cmd.Use = "logs NAME|ID"
		cmd.Short = "Show the pod log lines agents forwarded for a stack"
		cmd.Long = `Show the pod log lines agents forwarded for a stack, oldest first, as
"namespace/pod/container: line". The broker keeps a few hours of telemetry. --follow keeps
the command running and prints new lines as they arrive over the stack's live channel.`
		cmd.Example = "  brokkrctl stack logs web --since 10m --limit 200\n  brokkrctl stack logs web -f"
	}
	verb.OneArg(cmd, stackArg(f), verb.Setup[TelemetryOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runTelemetry,
		Check: func(*cobra.Command) error {
			t, err := ParseSince(since, f.TimeNow())
			if err != nil {
				return err
			}
			opts.Since = t
			if opts.Limit < 0 || opts.Limit > 5000 {
				return cmdutil.FlagErrorf("--limit must be within 1..5000")
			}
			return nil
		}})
	cmd.Flags().StringVar(&since, "since", "", "Only rows newer than a duration ago (15m) or an RFC 3339 time")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "Most rows to show (default 500)")
	if opts.Logs {
		cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "Keep streaming new rows")
	} else {
		cmd.Flags().BoolVar(&opts.Follow, "follow", false, "Keep streaming new rows")
	}
	return cmd
}

func runTelemetry(ctx context.Context, opts *TelemetryOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	id, err := resolve.StackID(ctx, c, opts.Ref)
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
		if !opts.Follow && opts.Format.IsWire() {
			_, err := p.PrintWire(h)
			return err
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
			if ok, err := p.PrintWire(h); ok {
				return err
			}
			return output.PrintList(p, specs.K8sEvent, events)
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

// printEvent prints one event as a line (JSON lines with -o json).
func printEvent(p *output.Printer, e client.AgentK8sEvent) error {
	if p.Format.IsWire() {
		return writeJSONLine(p.IO.Out, e)
	}
	ts := e.ObservedAt.UTC().Format(time.RFC3339)
	_, err := fmt.Fprintf(p.IO.Out, "%s  %-7s  %s  %s: %s\n", ts, e.EventType, e.Reason, specs.ObjectRef(e.InvolvedObject), strings.TrimSpace(e.Message))
	return err
}

func printLogLine(p *output.Printer, ns, pod, container string, ts time.Time, line string, raw any) error {
	if p.Format.IsWire() {
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
