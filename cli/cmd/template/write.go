package template

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmd/stack"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
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
	cmd := &cobra.Command{
		Use:   "create --name NAME -f FILE [--schema FILE]",
		Short: "Create a template",
		Long: `Create a template from a file of template text ("-" reads stdin). --schema names a JSON
Schema for the parameters, as JSON or YAML; without it any parameters are accepted. The admin
creates system templates, a generator its own.`,
		Example: "  brokkrctl template create --name web -f web.yaml.tera --schema schema.yaml --description \"web tier\"",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
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
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			t, err := c.Templates().Create(cmd.Context(), opts.Request)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Created template %s version %d", t.Name, t.Version)
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, t)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "Template name (required)")
	cmd.Flags().StringVarP(&opts.File, "filename", "f", "", `File with the template text ("-" reads stdin)`)
	cmd.Flags().StringVar(&opts.Schema, "schema", "", "JSON Schema of the parameters (JSON or YAML file)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	output.AddFormatFlag(cmd, &opts.Format)
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
	cmd := &cobra.Command{
		Use:   "update NAME|ID [-f FILE] [--schema FILE] [--description TEXT]",
		Short: "Store a new version of a template",
		Long: `Store a new version of a template. What is not given is taken from the version named (a
name means the latest version): its text, schema and description.`,
		Example:           "  brokkrctl template update web -f web.yaml.tera",
		Args:              cmdutil.ExactArgs(1, "template NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteTemplates(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if cmd.Flags().Changed("description") {
				opts.Description = &desc
			}
			if opts.File == "" && opts.Schema == "" && opts.Description == nil {
				return cmdutil.FlagErrorf("nothing to change: give -f, --schema or --description")
			}
			if runF != nil {
				return runF(opts)
			}
			return runUpdate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "filename", "f", "", `File with the new template text ("-" reads stdin)`)
	cmd.Flags().StringVar(&opts.Schema, "schema", "", "New JSON Schema of the parameters (JSON or YAML file)")
	cmd.Flags().StringVar(&desc, "description", "", "New description")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	cur, err := resource.Template(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	req := client.UpdateTemplateRequest{TemplateContent: cur.TemplateContent, ParametersSchema: cur.ParametersSchema, Description: opts.Description}
	in := f.IOStreams.In
	if opts.File != "" {
		b, err := cmdutil.ReadFileOrStdin(in, opts.File)
		if err != nil {
			return err
		}
		req.TemplateContent = string(b)
	}
	if opts.Schema != "" {
		raw, err := cmdutil.ReadFileOrStdin(in, opts.Schema)
		if err != nil {
			return err
		}
		if req.ParametersSchema, err = SchemaJSON(raw); err != nil {
			return cmdutil.FlagErrorf("%s: %v", opts.Schema, err)
		}
	}
	t, err := c.Templates().Update(ctx, cur.ID, req)
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "Stored template %s version %d", t.Name, t.Version)
	return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, t)
}

// InstantiateOptions are the inputs of template instantiate.
type InstantiateOptions struct {
	Factory    *cmdutil.Factory
	Ref        string
	Stack      string
	ValuesFile string
	Set        []string
	Parameters map[string]any
	Format     output.Format
}

// NewCmdInstantiate returns template instantiate; runF replaces the run function in tests.
func NewCmdInstantiate(f *cmdutil.Factory, runF func(*InstantiateOptions) error) *cobra.Command {
	opts := &InstantiateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "instantiate NAME|ID --stack NAME|ID [--values FILE] [--set key=value ...]",
		Short: "Render a template into a new deployment object of a stack",
		Long: `Render a template with parameters and store the result as a new deployment object of a
stack. The stack must carry every label and annotation the template requires.

Parameters come from --values (a YAML or JSON file, "-" for stdin) and --set key=value, which
wins. A --set value is read as a YAML scalar (3 is a number, true a boolean, '"3"' a string);
dotted keys build nested mappings (--set image.tag=1.4).`,
		Example: `  brokkrctl template instantiate web --stack web-prod --values prod.yaml
  brokkrctl template instantiate 1f3a8c2d-... --stack web-prod --set replicas=3 --set image.tag=1.4.2`,
		Args:              cmdutil.ExactArgs(1, "template NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteTemplates(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Stack == "" {
				return cmdutil.FlagErrorf("--stack is required")
			}
			opts.Ref = args[0]
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
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			c, err := f.Client()
			if err != nil {
				return err
			}
			t, err := resource.Template(ctx, c, opts.Ref)
			if err != nil {
				return err
			}
			stackID, err := resource.StackID(ctx, c, opts.Stack)
			if err != nil {
				return err
			}
			obj, err := c.Stacks().Instantiate(ctx, stackID, t.ID, opts.Parameters)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Rendered template %s v%d into stack %s as object #%d", t.Name, t.Version, opts.Stack, obj.SequenceID)
			return output.PrintOne(output.NewPrinter(f, opts.Format), stack.ObjectSpec, obj)
		},
	}
	cmd.Flags().StringVar(&opts.Stack, "stack", "", "Stack name or id (required)")
	cmd.Flags().StringVar(&opts.ValuesFile, "values", "", `YAML or JSON file of parameters ("-" reads stdin)`)
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "Set a parameter, key=value (repeatable; dotted keys nest)")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("stack", cmdutil.CompleteStacks(f))
	return cmd
}
