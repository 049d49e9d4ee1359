package workorder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// CreateOptions are the inputs of workorder create.
type CreateOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format

	// File is a YAML or JSON document with the fields of the create request ("-" = stdin).
	File string

	WorkType     string
	YAMLFile     string
	Agents       []string
	Labels       []string
	Annotations  []string
	MaxRetries   int32
	Backoff      int32
	ClaimTimeout int32

	// Request is the request built from File and the flags (set before runF is called).
	Request client.CreateWorkOrderRequest
}

// NewCmdCreate returns workorder create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:   "create",
		Short: "Enqueue a work order",
		Long: `Enqueue a work order for the agents it targets: the listed agents, agents with any of the
labels, and agents with any of the annotations.

The request comes from a YAML or JSON file (-f, "-" for stdin) with the fields of the API's
create request (work_type, yaml_content, max_retries, backoff_seconds,
claim_timeout_seconds, targeting: {agent_ids, labels, annotations}), from flags, or both:
flags override the file's values and add to its targeting.`,
		Example: `  brokkrctl workorder create --type build --yaml-file build.yaml --label gpu
  brokkrctl workorder create --type custom --yaml-file job.yaml --agent 5b0e... --annotation region=eu
  brokkrctl workorder create -f order.yaml -o json
  cat order.json | brokkrctl workorder create -f -`,
	}, verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(cmd *cobra.Command) error {
			req, err := buildRequest(opts, cmd)
			if err != nil {
				return err
			}
			opts.Request = req
			return nil
		}})
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "filename", "f", "", `YAML or JSON file with the request ("-" reads stdin)`)
	fl.StringVar(&opts.WorkType, "type", "", "Work type, e.g. build or custom")
	fl.StringVar(&opts.YAMLFile, "yaml-file", "", `File whose content is the order's YAML ("-" reads stdin)`)
	fl.StringArrayVar(&opts.Agents, "agent", nil, "Target agent id (repeatable)")
	fl.StringArrayVar(&opts.Labels, "label", nil, "Target agents with this label (repeatable; also --target-label)")
	cmdutil.FlagAlias(fl, "target-label", "label")
	fl.StringArrayVar(&opts.Annotations, "annotation", nil, "Target agents with this annotation, key=value (repeatable)")
	fl.Int32Var(&opts.MaxRetries, "max-retries", 0, "Retries after a retryable failure (default 3)")
	fl.Int32Var(&opts.Backoff, "backoff", 0, "Base backoff between retries in seconds (default 60)")
	fl.Int32Var(&opts.ClaimTimeout, "claim-timeout", 0, "Seconds a claim lasts before the order is offered again (default 3600)")
	_ = cmd.RegisterFlagCompletionFunc("agent", complete.AgentIDs(f))
	return cmd
}

// buildRequest merges the file and the flags into the create request.
func buildRequest(opts *CreateOptions, cmd *cobra.Command) (client.CreateWorkOrderRequest, error) {
	var req client.CreateWorkOrderRequest
	in := opts.Factory.IOStreams.In
	if opts.File != "" && opts.File == opts.YAMLFile && opts.File == "-" {
		return req, cmdutil.FlagErrorf("-f and --yaml-file cannot both read stdin")
	}
	if opts.File != "" {
		raw, err := cmdutil.ReadFileOrStdin(in, opts.File)
		if err != nil {
			return req, err
		}
		if err := decodeRequest(raw, &req); err != nil {
			return req, cmdutil.FlagErrorf("%s: %v", displayName(opts.File), err)
		}
	}
	if opts.WorkType != "" {
		req.WorkType = opts.WorkType
	}
	if opts.YAMLFile != "" {
		raw, err := cmdutil.ReadFileOrStdin(in, opts.YAMLFile)
		if err != nil {
			return req, err
		}
		req.YAMLContent = string(raw)
	}
	fl := cmd.Flags()
	if fl.Changed("max-retries") {
		req.MaxRetries = &opts.MaxRetries
	}
	if fl.Changed("backoff") {
		req.BackoffSeconds = &opts.Backoff
	}
	if fl.Changed("claim-timeout") {
		req.ClaimTimeoutSeconds = &opts.ClaimTimeout
	}
	annotations, err := cmdutil.ParseKeyValues("annotation", opts.Annotations)
	if err != nil {
		return req, err
	}
	if len(opts.Agents)+len(opts.Labels)+len(annotations) > 0 {
		if req.Targeting == nil {
			req.Targeting = &client.WorkOrderTargeting{}
		}
		t := req.Targeting
		for _, a := range opts.Agents {
			id, err := cmdutil.ParseUUID("--agent", a)
			if err != nil {
				return req, err
			}
			t.AgentIDs = append(t.AgentIDs, id)
		}
		t.Labels = append(t.Labels, opts.Labels...)
		if len(annotations) > 0 && t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		for k, v := range annotations {
			t.Annotations[k] = v
		}
	}
	switch {
	case strings.TrimSpace(req.WorkType) == "":
		return req, cmdutil.FlagErrorf("a work type is required: --type or work_type in -f")
	case strings.TrimSpace(req.YAMLContent) == "":
		return req, cmdutil.FlagErrorf("the order's YAML is required: --yaml-file or yaml_content in -f")
	case !hasTargeting(req):
		return req, cmdutil.FlagErrorf("no targeting: give at least one --agent, --label or --annotation")
	}
	return req, nil
}

func hasTargeting(r client.CreateWorkOrderRequest) bool {
	if len(r.TargetAgentIDs) > 0 {
		return true
	}
	t := r.Targeting
	return t != nil && (len(t.AgentIDs)+len(t.Labels)+len(t.Annotations)) > 0
}

// decodeRequest reads a YAML or JSON document (JSON is YAML) strictly: unknown fields fail.
func decodeRequest(raw []byte, req *client.CreateWorkOrderRequest) error {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	if doc == nil {
		return fmt.Errorf("empty document")
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func displayName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.WorkOrder, error) {
		return c.WorkOrders().Create(ctx, opts.Request)
	}
	return verb.Change(ctx, opts.Factory, opts.Format, specs.WorkOrder, create, func(w client.WorkOrder) string {
		return "Created work order " + w.ID.String()
	})
}
