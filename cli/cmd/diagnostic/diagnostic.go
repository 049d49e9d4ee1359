// Package diagnostic implements "brokkrctl diagnostic": asking an agent to collect pod
// statuses, events and log tails of a deployment object, and reading the result.
package diagnostic

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// NewCmdDiagnostic returns the diagnostic noun.
func NewCmdDiagnostic(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "diagnostic <command>",
		Aliases: []string{"diagnostics", "diag"},
		Short:   "Collect diagnostics of deployment objects",
		Long: `Ask an agent to collect diagnostics (pod statuses, recent events, log tails) about a
deployment object, and show what it collected.`,
		Example: `  brokkrctl diagnostic request --object 9d2c... --agent 5b0e... --wait
  brokkrctl diagnostic get 1f3a...`,
	}
	cmd.AddCommand(NewCmdRequest(f, nil), NewCmdGet(f, nil))
	return cmd
}

// Spec is the table of diagnostic requests.
var Spec = output.Spec[client.DiagnosticRequest]{
	Kind:   "diagnostic",
	Plural: "diagnostics",
	Name:   func(d client.DiagnosticRequest) string { return d.ID.String() },
	Columns: []output.Column[client.DiagnosticRequest]{
		output.Text("ID", func(d client.DiagnosticRequest) string { return d.ID.String() }),
		output.Text("STATUS", func(d client.DiagnosticRequest) string { return d.Status }),
		output.Text("AGENT", func(d client.DiagnosticRequest) string { return d.AgentID.String() }),
		output.Text("OBJECT", func(d client.DiagnosticRequest) string { return d.DeploymentObjectID.String() }),
		output.Age("AGE", func(d client.DiagnosticRequest) *time.Time { return &d.CreatedAt }),
		output.WideOnly(output.Age("EXPIRES", func(d client.DiagnosticRequest) *time.Time { return &d.ExpiresAt })),
		output.WideOnly(output.Text("REQUESTED BY", func(d client.DiagnosticRequest) string {
			if d.RequestedBy == nil {
				return "-"
			}
			return *d.RequestedBy
		})),
	},
}

// finished reports whether a request will not change any more.
func finished(status string) bool {
	return status == client.DiagnosticCompleted || status == client.DiagnosticFailed || status == client.DiagnosticExpired
}

// waitFor polls the request until it is finished or timeout passes.
func waitFor(ctx context.Context, c *client.Client, id uuid.UUID, interval, timeout time.Duration) (client.DiagnosticResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		d, err := c.Diagnostics().Get(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return d, fmt.Errorf("diagnostic %s: no result within %s", id, timeout)
			}
			return d, err
		}
		if finished(d.Request.Status) {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("diagnostic %s still %s after %s", id, d.Request.Status, timeout)
		case <-time.After(interval):
		}
	}
}

// printResponse prints a request and its result: the wire object for json and yaml, a
// readable report otherwise.
func printResponse(p *output.Printer, d client.DiagnosticResponse) error {
	switch p.Format {
	case output.FormatJSON:
		return output.WriteJSON(p.IO.Out, d)
	case output.FormatYAML:
		return output.WriteYAML(p.IO.Out, d)
	case output.FormatName:
		return output.PrintOne(p, Spec, d.Request)
	}
	return Report(p.IO.Out, d, p.IO.IsStdoutTTY(), p.Now())
}

// Report writes a diagnostic request and its result for people to read.
func Report(w io.Writer, d client.DiagnosticResponse, tty bool, now time.Time) error {
	var b strings.Builder
	r := d.Request
	fmt.Fprintf(&b, "Diagnostic %s: %s\n", r.ID, r.Status)
	fmt.Fprintf(&b, "  Agent:      %s\n", r.AgentID)
	fmt.Fprintf(&b, "  Object:     %s\n", r.DeploymentObjectID)
	if r.RequestedBy != nil {
		fmt.Fprintf(&b, "  Requested:  by %s, %s\n", *r.RequestedBy, ts(&r.CreatedAt, tty, now))
	} else {
		fmt.Fprintf(&b, "  Requested:  %s\n", ts(&r.CreatedAt, tty, now))
	}
	fmt.Fprintf(&b, "  Completed:  %s\n", ts(r.CompletedAt, tty, now))
	fmt.Fprintf(&b, "  Expires:    %s\n", ts(&r.ExpiresAt, tty, now))
	res := d.Result
	if res == nil {
		b.WriteString("\nNo result yet.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "  Collected:  %s\n", ts(&res.CollectedAt, tty, now))

	b.WriteString("\nPods:\n")
	pods, err := res.DecodePods()
	if err != nil {
		fmt.Fprintf(&b, "  %s\n", indent(res.PodStatuses, "  "))
	} else if len(pods) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, p := range pods {
		fmt.Fprintf(&b, "  %s/%s  %s\n", p.Namespace, p.Name, p.Phase)
		for _, c := range p.Containers {
			ready := "not ready"
			if c.Ready {
				ready = "ready"
			}
			state := c.State
			if reason := deref(c.StateReason); reason != "" {
				state += " (" + reason + ")"
			}
			fmt.Fprintf(&b, "    container %s: %s, %s, %d restarts\n", c.Name, state, ready, c.RestartCount)
			if msg := deref(c.StateMessage); msg != "" {
				fmt.Fprintf(&b, "      %s\n", msg)
			}
		}
		for _, c := range p.Conditions {
			if c.Status == "True" {
				continue
			}
			line := fmt.Sprintf("    condition %s=%s", c.ConditionType, c.Status)
			if reason := deref(c.Reason); reason != "" {
				line += " " + reason
			}
			if msg := deref(c.Message); msg != "" {
				line += ": " + msg
			}
			b.WriteString(line + "\n")
		}
	}

	b.WriteString("\nEvents:\n")
	events, err := res.DecodeEvents()
	if err != nil {
		fmt.Fprintf(&b, "  %s\n", indent(res.Events, "  "))
	} else if len(events) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, e := range events {
		if e.Error != nil && *e.Error != "" {
			fmt.Fprintf(&b, "  collection error: %s\n", *e.Error)
			continue
		}
		count := ""
		if e.Count != nil && *e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", *e.Count)
		}
		fmt.Fprintf(&b, "  %-7s %s %s/%s: %s%s\n", deref(e.EventType), deref(e.Reason), deref(e.InvolvedObjectKind), e.InvolvedObject, deref(e.Message), count)
	}

	b.WriteString("\nLogs:\n")
	switch res.LogTails {
	case nil:
		b.WriteString("  (none)\n")
	default:
		tails, err := res.DecodeLogTails()
		if err != nil {
			fmt.Fprintf(&b, "  %s\n", indent(*res.LogTails, "  "))
			break
		}
		if len(tails) == 0 {
			b.WriteString("  (none)\n")
		}
		keys := make([]string, 0, len(tails))
		for k := range tails {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  ==> %s <==\n", k)
			text := strings.TrimRight(tails[k], "\n")
			if text == "" {
				b.WriteString("    (empty)\n")
				continue
			}
			fmt.Fprintf(&b, "    %s\n", indent(text, "    "))
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func ts(t *time.Time, tty bool, now time.Time) string {
	s := output.FormatTime(t, tty, now)
	if tty && s != "-" && !strings.HasPrefix(s, "in ") {
		s += " ago"
	}
	return s
}

// deref is the text of an optional payload field, empty when it is absent.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
