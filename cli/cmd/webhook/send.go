package webhook

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// TestOptions are the inputs of webhook test.
type TestOptions = verb.IDOptions

// NewCmdTest returns webhook test; runF replaces the run function in tests.
func NewCmdTest(f *cmdutil.Factory, runF func(*TestOptions) error) *cobra.Command {
	return verb.ShowIDCmd(f, runF, &cobra.Command{
		Use:   "test ID",
		Short: "Send a test event to a webhook's URL now",
		Long: `Post a synthetic webhook.test event to the subscription's URL at once and report the
receiver's answer. A non-2xx answer or an unreachable URL fails the command.`,
		Example: "  brokkrctl webhook test 7c1d...",
	}, idArg(f), func(ctx context.Context, c *client.Client, id uuid.UUID) (client.WebhookTestResponse, error) {
		return c.Webhooks().Test(ctx, id)
	}, printTest)
}

// printTest prints the receiver's answer: the wire object for json and yaml, otherwise its
// status on stderr and its message on stdout.
func printTest(p *output.Printer, res client.WebhookTestResponse) error {
	if ok, err := p.PrintWire(res); ok {
		return err
	}
	output.Successf(p.IO, "Test delivery answered HTTP %d", res.StatusCode)
	_, err := fmt.Fprintln(p.IO.Out, res.Message)
	return err
}
