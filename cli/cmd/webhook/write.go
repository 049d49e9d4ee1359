package webhook

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// filterFlags are the --agent-filter and --stack-filter flags.
type filterFlags struct{ agent, stack string }

// add registers the flags and the completions of the filters on cmd, and the event type
// completion of --event.
func (ff *filterFlags) add(f *cmdutil.Factory, cmd *cobra.Command) {
	cmd.Flags().StringVar(&ff.agent, "agent-filter", "", "Only events about this agent")
	cmd.Flags().StringVar(&ff.stack, "stack-filter", "", "Only events about this stack")
	_ = cmd.RegisterFlagCompletionFunc("event", complete.EventTypes(f))
	_ = cmd.RegisterFlagCompletionFunc("agent-filter", complete.Agents(f))
	_ = cmd.RegisterFlagCompletionFunc("stack-filter", complete.Stacks(f))
}

func (ff filterFlags) build(ctx context.Context, c *client.Client) (*client.WebhookFilters, error) {
	if ff.agent == "" && ff.stack == "" {
		return nil, nil
	}
	out := &client.WebhookFilters{}
	if ff.agent != "" {
		id, err := resolve.AgentID(ctx, c, ff.agent)
		if err != nil {
			return nil, err
		}
		out.AgentID = &id
	}
	if ff.stack != "" {
		id, err := resolve.StackID(ctx, c, ff.stack)
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
	cmd := verb.Create(&cobra.Command{
		Use:   "create NAME --url URL --event TYPE... [flags]",
		Short: "Create a webhook subscription",
		Long: `Create a webhook subscription named NAME (or --name) for one or more event types (see
"brokkrctl webhook event-types"; "*" subscribes to all). Deliveries are made by the broker,
or with --target-label by agents carrying one of the labels (for URLs only reachable inside
a cluster). --agent-filter and --stack-filter keep events about one agent or stack.`,
		Example: `  brokkrctl webhook create ops --url https://hooks.example.com/brokkr --event deployment.failed --event agent.offline
  brokkrctl webhook create in-cluster --url http://alerts.monitoring:9093/hook --event '*' --target-label prod`,
	}, &opts.Name, "Name (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(cmd *cobra.Command) error {
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
			return nil
		}})
	fl := cmd.Flags()
	fl.StringVar(&opts.URL, "url", "", "URL to post events to (required; stored encrypted)")
	fl.StringVar(&opts.AuthHeader, "auth-header", "", "Authorization header value sent with each delivery (stored encrypted)")
	fl.StringArrayVar(&opts.Events, "event", nil, `Event type to subscribe to (repeatable; "*" for all)`)
	fl.StringArrayVar(&opts.TargetLabels, "target-label", nil, "Deliver through agents with this label (repeatable)")
	fl.Int32Var(&opts.MaxRetries, "max-retries", 0, "Attempts before a delivery is dead (default 5)")
	fl.Int32Var(&opts.Timeout, "timeout", 0, "Seconds to wait for the receiver (default 30)")
	opts.filters.add(f, cmd)
	return cmd
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.WebhookResponse, error) {
		req := opts.Request
		var err error
		if req.Filters, err = opts.filters.build(ctx, c); err != nil {
			return client.WebhookResponse{}, err
		}
		return c.Webhooks().Create(ctx, req)
	}
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Webhook, create, func(w client.WebhookResponse) string {
		return fmt.Sprintf("Created webhook %s (%s)", w.Name, w.ID)
	})
}

// UpdateOptions are the inputs of webhook update.
type UpdateOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Request client.UpdateWebhookRequest
	Format  output.Format
	filters filterFlags
}

// updateFlags are the values of webhook update's flags, copied into the request when given.
type updateFlags struct {
	name, url, auth  string
	events, labels   []string
	enable, disable  bool
	retries, timeout int32
	noTargetLabels   bool
}

// NewCmdUpdate returns webhook update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	var v updateFlags
	cmd := verb.OneArg(&cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a webhook subscription",
		Long: `Change a webhook subscription; only the flags given change. --event replaces the event
types, --target-label the delivering labels (--broker-delivery goes back to broker delivery).`,
		Example: "  brokkrctl webhook update 7c1d... --disable\n  brokkrctl webhook update 7c1d... --event '*' --max-retries 10",
	}, idArg(f), verb.Setup[UpdateOptions]{Opts: opts, Format: &opts.Format, ID: &opts.ID, RunF: runF, Run: runUpdate,
		Check: func(cmd *cobra.Command) error {
			changed, err := v.request(cmd, &opts.Request)
			if err != nil {
				return err
			}
			if !changed && opts.filters.agent == "" && opts.filters.stack == "" {
				return cmdutil.FlagErrorf("nothing to change")
			}
			return nil
		}})
	fl := cmd.Flags()
	fl.StringVar(&v.name, "name", "", "New name")
	fl.StringVar(&v.url, "url", "", "New URL")
	fl.StringVar(&v.auth, "auth-header", "", "New Authorization header value")
	fl.StringArrayVar(&v.events, "event", nil, "Replace the event types (repeatable)")
	fl.StringArrayVar(&v.labels, "target-label", nil, "Replace the delivering labels (repeatable)")
	fl.BoolVar(&v.noTargetLabels, "broker-delivery", false, "Let the broker deliver (clears the target labels)")
	fl.BoolVar(&v.enable, "enable", false, "Enable the subscription")
	fl.BoolVar(&v.disable, "disable", false, "Disable the subscription")
	fl.Int32Var(&v.retries, "max-retries", 0, "New maximum attempts")
	fl.Int32Var(&v.timeout, "timeout", 0, "New receiver timeout in seconds")
	opts.filters.add(f, cmd)
	return cmd
}

// request checks the flags and copies those given into r; changed reports whether any was.
func (v *updateFlags) request(cmd *cobra.Command, r *client.UpdateWebhookRequest) (changed bool, err error) {
	if v.enable && v.disable {
		return false, cmdutil.FlagErrorf("--enable and --disable cannot be combined")
	}
	if v.noTargetLabels && len(v.labels) > 0 {
		return false, cmdutil.FlagErrorf("--broker-delivery and --target-label cannot be combined")
	}
	fl := cmd.Flags()
	set := func(flag string, apply func()) {
		if fl.Changed(flag) {
			apply()
			changed = true
		}
	}
	set("name", func() { r.Name = &v.name })
	set("url", func() { r.URL = &v.url })
	set("auth-header", func() { r.AuthHeader = &v.auth })
	set("event", func() { r.EventTypes = v.events })
	set("enable", func() { r.Enabled = &v.enable })
	set("disable", func() { enabled := !v.disable; r.Enabled = &enabled })
	set("max-retries", func() { r.MaxRetries = &v.retries })
	set("timeout", func() { r.TimeoutSeconds = &v.timeout })
	set("target-label", func() { r.TargetLabels = &v.labels })
	if v.noTargetLabels { // --broker-delivery=false asks for nothing
		set("broker-delivery", func() { empty := []string(nil); r.TargetLabels = &empty })
	}
	return changed, nil
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	update := func(ctx context.Context, c *client.Client) (client.WebhookResponse, error) {
		r := &opts.Request
		var err error
		if r.Filters, err = opts.filters.build(ctx, c); err != nil {
			return client.WebhookResponse{}, err
		}
		return c.Webhooks().Update(ctx, opts.ID, *r)
	}
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Webhook, update, func(w client.WebhookResponse) string {
		return "Updated webhook " + w.Name
	})
}
