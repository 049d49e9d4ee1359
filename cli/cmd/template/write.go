package template

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// CreateOptions are the inputs of template create.
type CreateOptions struct {
	Factory     *cmdutil.Factory
	Name        string
	File        string
	Schema      string
	Description string
	Format      output.Format
	Request     client.CreateTemplateRequest
}

// NewCmdCreate returns template create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := verb.Create(&cobra.Command{
		Use:   "create NAME -f FILE [--schema FILE] [flags]",
		Short: "Create a template",
		Long: `Create a template named NAME (or --name) from a file of template text ("-" reads stdin).
--schema names a JSON Schema for the parameters, as JSON or YAML; without it any parameters
are accepted. The admin creates system templates, a generator its own.`,
		Example: "  brokkrctl template create web -f web.yaml.tera --schema schema.yaml --description \"web tier\"",
	}, &opts.Name, "Template name (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(cmd *cobra.Command) error {
			if opts.Name == "" || opts.File == "" {
				return cmdutil.FlagErrorf("--name and -f are required")
			}
			in := f.IOStreams.In
			content, err := cmdutil.ReadFileOrStdin(in, opts.File)
			if err != nil {
				return err
			}
			schema := "{}"
			if opts.Schema != "" {
				raw, err := cmdutil.ReadFileOrStdin(in, opts.Schema)
				if err != nil {
					return err
				}
				if schema, err = SchemaJSON(raw); err != nil {
					return cmdutil.FlagErrorf("%s: %v", opts.Schema, err)
				}
			}
			opts.Request = client.CreateTemplateRequest{Name: opts.Name, TemplateContent: string(content), ParametersSchema: schema}
			if cmd.Flags().Changed("description") {
				opts.Request.Description = &opts.Description
			}
			return nil
		}})
	cmd.Flags().StringVarP(&opts.File, "filename", "f", "", `File with the template text ("-" reads stdin)`)
	cmd.Flags().StringVar(&opts.Schema, "schema", "", "JSON Schema of the parameters (JSON or YAML file)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	return cmd
}

// UpdateOptions are the inputs of template update.
type UpdateOptions struct {
	Factory     *cmdutil.Factory
	Ref         string
	File        string
	Schema      string
	Description *string
	Format      output.Format
}

// NewCmdUpdate returns template update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	var desc string
	cmd := verb.OneArg(&cobra.Command{
		Use:   "update NAME|ID [-f FILE] [--schema FILE] [--description TEXT]",
		Short: "Store a new version of a template",
		Long: `Store a new version of a template. What is not given is taken from the version named (a
name means the latest version): its text, schema and description.`,
		Example: "  brokkrctl template update web -f web.yaml.tera",
	}, templateArg(f), verb.Setup[UpdateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runUpdate,
		Check: func(cmd *cobra.Command) error {
			if cmd.Flags().Changed("description") {
				opts.Description = &desc
			}
			if opts.File == "" && opts.Schema == "" && opts.Description == nil {
				return cmdutil.FlagErrorf("nothing to change: give -f, --schema or --description")
			}
			return nil
		}})
	cmd.Flags().StringVarP(&opts.File, "filename", "f", "", `File with the new template text ("-" reads stdin)`)
	cmd.Flags().StringVar(&opts.Schema, "schema", "", "New JSON Schema of the parameters (JSON or YAML file)")
	cmd.Flags().StringVar(&desc, "description", "", "New description")
	return cmd
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.StackTemplate, error) {
		return c.Templates().Create(ctx, opts.Request)
	}
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Template, create, func(t client.StackTemplate) string {
		return fmt.Sprintf("Created template %s version %d", t.Name, t.Version)
	})
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	in := opts.Factory.IOStreams.In
	update := verb.Via(resolve.Template, opts.Ref, func(ctx context.Context, c *client.Client, cur client.StackTemplate) (client.StackTemplate, error) {
		req := client.UpdateTemplateRequest{TemplateContent: cur.TemplateContent, ParametersSchema: cur.ParametersSchema, Description: opts.Description}
		if opts.File != "" {
			b, err := cmdutil.ReadFileOrStdin(in, opts.File)
			if err != nil {
				return client.StackTemplate{}, err
			}
			req.TemplateContent = string(b)
		}
		if opts.Schema != "" {
			raw, err := cmdutil.ReadFileOrStdin(in, opts.Schema)
			if err != nil {
				return client.StackTemplate{}, err
			}
			if req.ParametersSchema, err = SchemaJSON(raw); err != nil {
				return client.StackTemplate{}, cmdutil.FlagErrorf("%s: %v", opts.Schema, err)
			}
		}
		return c.Templates().Update(ctx, cur.ID, req)
	})
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Template, update, func(t client.StackTemplate) string {
		return fmt.Sprintf("Stored template %s version %d", t.Name, t.Version)
	})
}

// InstantiateOptions are the inputs of template instantiate.
type InstantiateOptions struct {
	Factory    *cmdutil.Factory
	Ref        string
	Stack      string
	ValuesFile string
	Set        []string
	Parameters map[string]any
	// Urgent makes the new object pass through apply windows.
	Urgent bool
	Format output.Format
}

// NewCmdInstantiate returns template instantiate; runF replaces the run function in tests.
func NewCmdInstantiate(f *cmdutil.Factory, runF func(*InstantiateOptions) error) *cobra.Command {
	opts := &InstantiateOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:   "instantiate NAME|ID --stack NAME|ID [--values FILE] [--set key=value ...]",
		Short: "Render a template into a new deployment object of a stack",
		Long: `Render a template with parameters and store the result as a new deployment object of a
stack. The stack must carry every label and annotation the template requires.

Parameters come from --values (a YAML or JSON file, "-" for stdin) and --set key=value, which
wins. A --set value is read as a YAML scalar (3 is a number, true a boolean, '"3"' a string);
dotted keys build nested mappings (--set image.tag=1.4).

--urgent marks the new object urgent: it passes through apply windows.`,
		Example: `  brokkrctl template instantiate web --stack web-prod --values prod.yaml
  brokkrctl template instantiate 1f3a8c2d-... --stack web-prod --set replicas=3 --set image.tag=1.4.2
  brokkrctl template instantiate web --stack web-prod --values hotfix.yaml --urgent`,
	}, templateArg(f), verb.Setup[InstantiateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runInstantiate,
		Check: func(*cobra.Command) error {
			if opts.Stack == "" {
				return cmdutil.FlagErrorf("--stack is required")
			}
			opts.Parameters = map[string]any{}
			if opts.ValuesFile != "" {
				raw, err := cmdutil.ReadFileOrStdin(f.IOStreams.In, opts.ValuesFile)
				if err != nil {
					return err
				}
				if opts.Parameters, err = ParseValues(raw); err != nil {
					return cmdutil.FlagErrorf("%s: %v", opts.ValuesFile, err)
				}
			}
			if err := ApplySet(opts.Parameters, opts.Set); err != nil {
				return err
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.Stack, "stack", "", "Stack name or id (required)")
	cmd.Flags().StringVar(&opts.ValuesFile, "values", "", `YAML or JSON file of parameters ("-" reads stdin)`)
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "Set a parameter, key=value (repeatable; dotted keys nest)")
	cmd.Flags().BoolVar(&opts.Urgent, "urgent", false, "Make the new object pass through apply windows")
	_ = cmd.RegisterFlagCompletionFunc("stack", complete.Stacks(f))
	return cmd
}

func runInstantiate(ctx context.Context, opts *InstantiateOptions) error {
	var t client.StackTemplate
	instantiate := func(ctx context.Context, c *client.Client) (client.DeploymentObject, error) {
		var err error
		if t, err = resolve.Template(ctx, c, opts.Ref); err != nil {
			return client.DeploymentObject{}, err
		}
		stackID, err := resolve.StackID(ctx, c, opts.Stack)
		if err != nil {
			return client.DeploymentObject{}, err
		}
		if opts.Urgent {
			return c.Stacks().InstantiateUrgent(ctx, stackID, t.ID, opts.Parameters)
		}
		return c.Stacks().Instantiate(ctx, stackID, t.ID, opts.Parameters)
	}
	return verb.Change(ctx, opts.Factory, opts.Format, specs.DeploymentObject, instantiate, func(obj client.DeploymentObject) string {
		return fmt.Sprintf("Rendered template %s v%d into stack %s as object #%d", t.Name, t.Version, opts.Stack, obj.SequenceID)
	})
}
