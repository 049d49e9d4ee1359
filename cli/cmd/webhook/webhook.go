// Package webhook implements "brokkrctl webhook": webhook subscriptions, their deliveries and
// test deliveries.
package webhook

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

var deliveryStatuses = []string{client.DeliveryPending, client.DeliveryAcquired, client.DeliverySuccess, client.DeliveryFailed, client.DeliveryDead}

// NewCmdWebhook returns the webhook noun.
func NewCmdWebhook(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "webhook <command>",
		Aliases: []string{"webhooks", "wh"},
		Short:   "Manage webhook subscriptions",
		Long: `Manage webhook subscriptions: the broker (or agents with matching labels) posts events of
the subscribed types to the subscription's URL. URLs and Authorization headers are stored
encrypted and never shown again.`,
		Example: `  brokkrctl webhook create --name ops --url https://hooks.example.com/brokkr --event deployment.failed
  brokkrctl webhook test 7c1d...
  brokkrctl webhook deliveries 7c1d... --status dead`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdTest(f, nil), NewCmdDeliveries(f, nil), NewCmdEventTypes(f, nil))
	return cmd
}

// Spec is the table of subscriptions.
var Spec = output.Spec[client.WebhookResponse]{
	Kind: "webhook",
	Name: func(w client.WebhookResponse) string { return w.ID.String() },
	Columns: []output.Column[client.WebhookResponse]{
		output.Text("ID", func(w client.WebhookResponse) string { return w.ID.String() }),
		output.Text("NAME", func(w client.WebhookResponse) string { return w.Name }),
		output.Text("EVENTS", func(w client.WebhookResponse) string { return strings.Join(w.EventTypes, ",") }),
		output.Text("ENABLED", func(w client.WebhookResponse) string { return yesNo(w.Enabled) }),
		output.Text("DELIVERED BY", func(w client.WebhookResponse) string {
			if w.TargetLabels == nil {
				return "broker"
			}
			return "agents:" + strings.Join(w.TargetLabels, ",")
		}),
		output.Age("AGE", func(w client.WebhookResponse) *time.Time { return &w.CreatedAt }),
		output.WideOnly(output.Text("RETRIES", func(w client.WebhookResponse) string { return strconv.Itoa(int(w.MaxRetries)) })),
		output.WideOnly(output.Text("TIMEOUT", func(w client.WebhookResponse) string { return strconv.Itoa(int(w.TimeoutSeconds)) + "s" })),
		output.WideOnly(output.Text("AUTH", func(w client.WebhookResponse) string { return yesNo(w.HasAuthHeader) })),
		output.WideOnly(output.Text("CREATED BY", func(w client.WebhookResponse) string { return resource.OrDash(w.CreatedBy) })),
	},
}

// DeliverySpec is the table of deliveries.
var DeliverySpec = output.Spec[client.WebhookDelivery]{
	Kind:   "delivery",
	Plural: "deliveries",
	Name:   func(d client.WebhookDelivery) string { return d.ID.String() },
	Columns: []output.Column[client.WebhookDelivery]{
		output.Text("ID", func(d client.WebhookDelivery) string { return d.ID.String() }),
		output.Text("EVENT", func(d client.WebhookDelivery) string { return d.EventType }),
		output.Text("STATUS", func(d client.WebhookDelivery) string { return d.Status }),
		output.Text("ATTEMPTS", func(d client.WebhookDelivery) string { return strconv.Itoa(int(d.Attempts)) }),
		output.Age("CREATED", func(d client.WebhookDelivery) *time.Time { return &d.CreatedAt }),
		output.Text("LAST ERROR", func(d client.WebhookDelivery) string { return resource.OrDash(d.LastError) }),
		output.WideOnly(output.Age("NEXT RETRY", func(d client.WebhookDelivery) *time.Time { return d.NextRetryAt })),
		output.WideOnly(output.Age("COMPLETED", func(d client.WebhookDelivery) *time.Time { return d.CompletedAt })),
		output.WideOnly(output.Text("EVENT ID", func(d client.WebhookDelivery) string { return d.EventID.String() })),
	},
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func idArg(f *cmdutil.Factory) (cobra.PositionalArgs, cobra.CompletionFunc) {
	return cmdutil.ExactArgs(1, "webhook ID"), cmdutil.OnlyFirstArg(resource.CompleteWebhookIDs(f))
}

// ListOptions are the inputs of webhook list.
type ListOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdList returns webhook list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List webhook subscriptions",
		Example: "  brokkrctl webhook list -o wide",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			hooks, err := c.Webhooks().List(cmd.Context())
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), Spec, hooks)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// GetOptions are the inputs of webhook get.
type GetOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Format  output.Format
}

// NewCmdGet returns webhook get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	args, comp := idArg(f)
	cmd := &cobra.Command{
		Use:               "get ID",
		Short:             "Show a webhook subscription",
		Example:           "  brokkrctl webhook get 7c1d... -o yaml",
		Args:              args,
		ValidArgsFunction: comp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("webhook ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			w, err := c.Webhooks().Get(cmd.Context(), opts.ID)
			if err != nil {
				return err
			}
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, w)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// filterFlags are the --agent-filter and --stack-filter flags.
type filterFlags struct{ agent, stack string }

func (ff filterFlags) build(ctx context.Context, c *client.Client) (*client.WebhookFilters, error) {
	if ff.agent == "" && ff.stack == "" {
		return nil, nil
	}
	out := &client.WebhookFilters{}
	if ff.agent != "" {
		id, err := resource.AgentID(ctx, c, ff.agent)
		if err != nil {
			return nil, err
		}
		out.AgentID = &id
	}
	if ff.stack != "" {
		id, err := resource.StackID(ctx, c, ff.stack)
		if err != nil {
			return nil, err
		}
		out.StackID = &id
	}
	return out, nil
}

// CreateOptions are the inputs of webhook create.
type CreateOptions struct {
	Factory      *cmdutil.Factory
	Name         string
	URL          string
	AuthHeader   string
	Events       []string
	TargetLabels []string
	MaxRetries   int32
	Timeout      int32
	Format       output.Format
	Request      client.CreateWebhookRequest
	filters      filterFlags
}

// NewCmdCreate returns webhook create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "create --name NAME --url URL --event TYPE...",
		Short: "Create a webhook subscription",
		Long: `Create a webhook subscription for one or more event types (see "brokkrctl webhook
event-types"; "*" subscribes to all). Deliveries are made by the broker, or with
--target-label by agents carrying one of the labels (for URLs only reachable inside a
cluster). --agent-filter and --stack-filter keep events about one agent or stack.`,
		Example: `  brokkrctl webhook create --name ops --url https://hooks.example.com/brokkr --event deployment.failed --event agent.offline
  brokkrctl webhook create --name in-cluster --url http://alerts.monitoring:9093/hook --event '*' --target-label prod`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Name == "" || opts.URL == "" || len(opts.Events) == 0 {
				return cmdutil.FlagErrorf("--name, --url and at least one --event are required")
			}
			req := client.CreateWebhookRequest{Name: opts.Name, URL: opts.URL, EventTypes: opts.Events}
			fl := cmd.Flags()
			if fl.Changed("auth-header") {
				req.AuthHeader = &opts.AuthHeader
			}
			if fl.Changed("max-retries") {
				req.MaxRetries = &opts.MaxRetries
			}
			if fl.Changed("timeout") {
				req.TimeoutSeconds = &opts.Timeout
			}
			if fl.Changed("target-label") {
				req.TargetLabels = opts.TargetLabels
			}
			opts.Request = req
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			c, err := f.Client()
			if err != nil {
				return err
			}
			if opts.Request.Filters, err = opts.filters.build(ctx, c); err != nil {
				return err
			}
			w, err := c.Webhooks().Create(ctx, opts.Request)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Created webhook %s (%s)", w.Name, w.ID)
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, w)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "Name (required)")
	fl.StringVar(&opts.URL, "url", "", "URL to post events to (required; stored encrypted)")
	fl.StringVar(&opts.AuthHeader, "auth-header", "", "Authorization header value sent with each delivery (stored encrypted)")
	fl.StringArrayVar(&opts.Events, "event", nil, `Event type to subscribe to (repeatable; "*" for all)`)
	fl.StringArrayVar(&opts.TargetLabels, "target-label", nil, "Deliver through agents with this label (repeatable)")
	fl.Int32Var(&opts.MaxRetries, "max-retries", 0, "Attempts before a delivery is dead (default 5)")
	fl.Int32Var(&opts.Timeout, "timeout", 0, "Seconds to wait for the receiver (default 30)")
	fl.StringVar(&opts.filters.agent, "agent-filter", "", "Only events about this agent")
	fl.StringVar(&opts.filters.stack, "stack-filter", "", "Only events about this stack")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("event", resource.CompleteEventTypes(f))
	_ = cmd.RegisterFlagCompletionFunc("agent-filter", resource.CompleteAgents(f))
	_ = cmd.RegisterFlagCompletionFunc("stack-filter", cmdutil.CompleteStacks(f))
	return cmd
}

// UpdateOptions are the inputs of webhook update.
type UpdateOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Request client.UpdateWebhookRequest
	Format  output.Format
	filters filterFlags
}

// NewCmdUpdate returns webhook update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	var (
		name, url, auth  string
		events, labels   []string
		enable, disable  bool
		retries, timeout int32
		noTargetLabels   bool
	)
	args, comp := idArg(f)
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a webhook subscription",
		Long: `Change a webhook subscription; only the flags given change. --event replaces the event
types, --target-label the delivering labels (--broker-delivery goes back to broker delivery).`,
		Example:           "  brokkrctl webhook update 7c1d... --disable\n  brokkrctl webhook update 7c1d... --event '*' --max-retries 10",
		Args:              args,
		ValidArgsFunction: comp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("webhook ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if enable && disable {
				return cmdutil.FlagErrorf("--enable and --disable cannot be combined")
			}
			if noTargetLabels && len(labels) > 0 {
				return cmdutil.FlagErrorf("--broker-delivery and --target-label cannot be combined")
			}
			r := &opts.Request
			fl := cmd.Flags()
			changed := false
			set := func(flag string, apply func()) {
				if fl.Changed(flag) {
					apply()
					changed = true
				}
			}
			set("name", func() { r.Name = &name })
			set("url", func() { r.URL = &url })
			set("auth-header", func() { r.AuthHeader = &auth })
			set("event", func() { r.EventTypes = events })
			set("enable", func() { r.Enabled = &enable })
			set("disable", func() { v := !disable; r.Enabled = &v })
			set("max-retries", func() { r.MaxRetries = &retries })
			set("timeout", func() { r.TimeoutSeconds = &timeout })
			set("target-label", func() { r.TargetLabels = &labels })
			if noTargetLabels { // --broker-delivery=false asks for nothing
				set("broker-delivery", func() { empty := []string(nil); r.TargetLabels = &empty })
			}
			if opts.filters.agent != "" || opts.filters.stack != "" {
				changed = true
			}
			if !changed {
				return cmdutil.FlagErrorf("nothing to change")
			}
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			c, err := f.Client()
			if err != nil {
				return err
			}
			if r.Filters, err = opts.filters.build(ctx, c); err != nil {
				return err
			}
			w, err := c.Webhooks().Update(ctx, opts.ID, *r)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Updated webhook %s", w.Name)
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, w)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "New name")
	fl.StringVar(&url, "url", "", "New URL")
	fl.StringVar(&auth, "auth-header", "", "New Authorization header value")
	fl.StringArrayVar(&events, "event", nil, "Replace the event types (repeatable)")
	fl.StringArrayVar(&labels, "target-label", nil, "Replace the delivering labels (repeatable)")
	fl.BoolVar(&noTargetLabels, "broker-delivery", false, "Let the broker deliver (clears the target labels)")
	fl.BoolVar(&enable, "enable", false, "Enable the subscription")
	fl.BoolVar(&disable, "disable", false, "Disable the subscription")
	fl.Int32Var(&retries, "max-retries", 0, "New maximum attempts")
	fl.Int32Var(&timeout, "timeout", 0, "New receiver timeout in seconds")
	fl.StringVar(&opts.filters.agent, "agent-filter", "", "Only events about this agent")
	fl.StringVar(&opts.filters.stack, "stack-filter", "", "Only events about this stack")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("event", resource.CompleteEventTypes(f))
	_ = cmd.RegisterFlagCompletionFunc("agent-filter", resource.CompleteAgents(f))
	_ = cmd.RegisterFlagCompletionFunc("stack-filter", cmdutil.CompleteStacks(f))
	return cmd
}

// DeleteOptions are the inputs of webhook delete.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Yes     bool
}

// NewCmdDelete returns webhook delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	args, comp := idArg(f)
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a webhook subscription and its deliveries",
		Long: `Delete a webhook subscription and its deliveries. On a terminal the command asks for
confirmation unless --yes is given; without a terminal --yes is required.`,
		Example:           "  brokkrctl webhook delete 7c1d... --yes",
		Aliases:           []string{"rm"},
		Args:              args,
		ValidArgsFunction: comp,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := cmdutil.ParseUUID("webhook ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required when not running interactively")
			}
			if runF != nil {
				return runF(opts)
			}
			if err := cmdutil.ConfirmDestructive(f, opts.Yes, "Delete webhook "+opts.ID.String()+"?"); err != nil {
				return err
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			if err := c.Webhooks().Delete(cmd.Context(), opts.ID); err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Deleted webhook %s", opts.ID)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Delete without asking for confirmation")
	return cmd
}

// TestOptions are the inputs of webhook test.
type TestOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Format  output.Format
}

// NewCmdTest returns webhook test; runF replaces the run function in tests.
func NewCmdTest(f *cmdutil.Factory, runF func(*TestOptions) error) *cobra.Command {
	opts := &TestOptions{Factory: f}
	args, comp := idArg(f)
	cmd := &cobra.Command{
		Use:   "test ID",
		Short: "Send a test event to a webhook's URL now",
		Long: `Post a synthetic webhook.test event to the subscription's URL at once and report the
receiver's answer. A non-2xx answer or an unreachable URL fails the command.`,
		Example:           "  brokkrctl webhook test 7c1d...",
		Args:              args,
		ValidArgsFunction: comp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("webhook ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			res, err := c.Webhooks().Test(cmd.Context(), opts.ID)
			if err != nil {
				return err
			}
			switch opts.Format {
			case output.FormatJSON:
				return output.WriteJSON(f.IOStreams.Out, res)
			case output.FormatYAML:
				return output.WriteYAML(f.IOStreams.Out, res)
			}
			output.Successf(f.IOStreams, "Test delivery answered HTTP %d", res.StatusCode)
			_, err = fmt.Fprintln(f.IOStreams.Out, res.Message)
			return err
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// DeliveriesOptions are the inputs of webhook deliveries.
type DeliveriesOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Query   client.DeliveryListOptions
	Format  output.Format
}

// NewCmdDeliveries returns webhook deliveries; runF replaces the run function in tests.
func NewCmdDeliveries(f *cmdutil.Factory, runF func(*DeliveriesOptions) error) *cobra.Command {
	opts := &DeliveriesOptions{Factory: f}
	args, comp := idArg(f)
	cmd := &cobra.Command{
		Use:               "deliveries ID",
		Short:             "List a webhook's deliveries, newest first",
		Example:           "  brokkrctl webhook deliveries 7c1d... --status failed -o wide",
		Args:              args,
		ValidArgsFunction: comp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("webhook ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if s := strings.ToLower(opts.Query.Status); s != "" {
				ok := false
				for _, v := range deliveryStatuses {
					ok = ok || v == s
				}
				if !ok {
					return cmdutil.FlagErrorf("invalid --status %q: want one of %s", s, strings.Join(deliveryStatuses, ", "))
				}
				opts.Query.Status = s
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			ds, err := c.Webhooks().Deliveries(cmd.Context(), opts.ID, &opts.Query)
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), DeliverySpec, ds)
		},
	}
	cmd.Flags().StringVar(&opts.Query.Status, "status", "", "Only deliveries in this status: "+strings.Join(deliveryStatuses, ", "))
	cmd.Flags().IntVar(&opts.Query.Limit, "limit", 0, "Deliveries per page (default 50)")
	cmd.Flags().IntVar(&opts.Query.Offset, "offset", 0, "Deliveries to skip")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("status", resource.Fixed(deliveryStatuses...))
	return cmd
}

// EventTypesOptions are the inputs of webhook event-types.
type EventTypesOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// EventTypeSpec is the table of event types.
var EventTypeSpec = output.Spec[string]{
	Kind:   "eventtype",
	Plural: "event types",
	Name:   func(s string) string { return s },
	Columns: []output.Column[string]{
		output.Text("EVENT TYPE", func(s string) string { return s }),
	},
}

// NewCmdEventTypes returns webhook event-types; runF replaces the run function in tests.
func NewCmdEventTypes(f *cmdutil.Factory, runF func(*EventTypesOptions) error) *cobra.Command {
	opts := &EventTypesOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "event-types",
		Short:   "List the event types a subscription may name",
		Example: "  brokkrctl webhook event-types",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			types, err := c.Webhooks().EventTypes(cmd.Context())
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), EventTypeSpec, types)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}
