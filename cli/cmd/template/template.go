// Package template implements "brokkrctl template": parameterised stack templates, their
// versions, required labels and annotations, and instantiating them into stacks.
package template

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// NewCmdTemplate returns the template noun.
func NewCmdTemplate(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "template <command>",
		Aliases: []string{"templates", "tmpl"},
		Short:   "Manage stack templates",
		Long: `Manage stack templates: parameterised manifests (Tera/Jinja syntax) with a JSON Schema for
their parameters. Updating a template stores a new version; templates are addressed by the id
of a version or by name (its latest version).`,
		Example: `  brokkrctl template create --name web -f web.yaml.tera --schema schema.yaml
  brokkrctl template instantiate web --stack web-prod --set replicas=3 --set image.tag=1.4.2
  brokkrctl template versions web`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdVersions(f, nil), NewCmdInstantiate(f, nil),
		resource.NewCmdLabel(f, MetaAPI(f)), resource.NewCmdAnnotation(f, MetaAPI(f)))
	return cmd
}

func templateID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return id, nil
	}
	t, err := resource.Template(ctx, c, ref)
	return t.ID, err
}

// MetaAPI connects the label and annotation verbs to templates.
func MetaAPI(f *cmdutil.Factory) resource.MetaAPI {
	return resource.MetaAPI{
		Noun:     "template",
		Complete: resource.CompleteTemplates(f),
		Resolve:  templateID,
		Labels: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]resource.Label, error) {
			ls, err := c.Templates().Labels(ctx, id)
			out := make([]resource.Label, len(ls))
			for i, l := range ls {
				out[i] = resource.Label{Label: l.Label}
			}
			return out, err
		},
		AddLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			_, err := c.Templates().AddLabel(ctx, id, l)
			return err
		},
		RemoveLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			return c.Templates().RemoveLabel(ctx, id, l)
		},
		Annotations: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]resource.Annotation, error) {
			as, err := c.Templates().Annotations(ctx, id)
			out := make([]resource.Annotation, len(as))
			for i, a := range as {
				out[i] = resource.Annotation{Key: a.Key, Value: a.Value}
			}
			return out, err
		},
		AddAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k, v string) error {
			_, err := c.Templates().AddAnnotation(ctx, id, k, v)
			return err
		},
		RemoveAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k string) error {
			return c.Templates().RemoveAnnotation(ctx, id, k)
		},
	}
}

// Spec is the table of template versions.
var Spec = output.Spec[client.StackTemplate]{
	Kind: "template",
	Name: func(t client.StackTemplate) string { return t.ID.String() },
	Columns: []output.Column[client.StackTemplate]{
		output.Text("ID", func(t client.StackTemplate) string { return t.ID.String() }),
		output.Text("NAME", func(t client.StackTemplate) string { return t.Name }),
		output.Text("VERSION", func(t client.StackTemplate) string { return strconv.Itoa(int(t.Version)) }),
		output.Text("OWNER", func(t client.StackTemplate) string {
			if t.GeneratorID == nil {
				return "system"
			}
			return t.GeneratorID.String()
		}),
		output.Age("AGE", func(t client.StackTemplate) *time.Time { return &t.CreatedAt }),
		output.WideOnly(output.Text("CHECKSUM", func(t client.StackTemplate) string { return resource.Short(t.Checksum) })),
		output.WideOnly(output.Text("DESCRIPTION", func(t client.StackTemplate) string { return resource.OrDash(t.Description) })),
	},
}

// ListOptions are the inputs of template list.
type ListOptions struct {
	Factory *cmdutil.Factory
	Latest  bool
	Format  output.Format
}

// NewCmdList returns template list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List templates",
		Long:    "List the template versions the PAK can read; --latest keeps the newest version of each name.",
		Example: "  brokkrctl template list --latest\n  brokkrctl template list -o wide",
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
			ts, err := c.Templates().List(cmd.Context())
			if err != nil {
				return err
			}
			if opts.Latest {
				ts = latestOnly(ts)
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), Spec, ts)
		},
	}
	cmd.Flags().BoolVar(&opts.Latest, "latest", false, "Only the newest version of each template")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// latestOnly keeps the newest version of each (owner, name), in the order of first
// appearance.
func latestOnly(ts []client.StackTemplate) []client.StackTemplate {
	key := func(t client.StackTemplate) string {
		owner := "system"
		if t.GeneratorID != nil {
			owner = t.GeneratorID.String()
		}
		return owner + "/" + t.Name
	}
	best := map[string]int{}
	var order []string
	for i, t := range ts {
		k := key(t)
		j, ok := best[k]
		if !ok {
			order = append(order, k)
			best[k] = i
			continue
		}
		if t.Version > ts[j].Version {
			best[k] = i
		}
	}
	out := make([]client.StackTemplate, 0, len(order))
	for _, k := range order {
		out = append(out, ts[best[k]])
	}
	return out
}

// GetOptions are the inputs of template get.
type GetOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Content bool
	Format  output.Format
}

// NewCmdGet returns template get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "get NAME|ID",
		Short:             "Show a template version",
		Long:              "Show a template version (a name means its latest version). --content prints the template text only.",
		Example:           "  brokkrctl template get web -o yaml\n  brokkrctl template get web --content > web.yaml.tera",
		Args:              cmdutil.ExactArgs(1, "template NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteTemplates(f)),
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
			t, err := resource.Template(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if opts.Content {
				_, err := fmt.Fprint(f.IOStreams.Out, t.TemplateContent)
				return err
			}
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, t)
		},
	}
	cmd.Flags().BoolVar(&opts.Content, "content", false, "Print the template text only")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// VersionsOptions are the inputs of template versions.
type VersionsOptions struct {
	Factory *cmdutil.Factory
	Name    string
	Format  output.Format
}

// NewCmdVersions returns template versions; runF replaces the run function in tests.
func NewCmdVersions(f *cmdutil.Factory, runF func(*VersionsOptions) error) *cobra.Command {
	opts := &VersionsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "versions NAME",
		Short:             "List every version of a template",
		Example:           "  brokkrctl template versions web",
		Args:              cmdutil.ExactArgs(1, "template NAME"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteTemplateNames(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			vs, err := resource.TemplateVersions(cmd.Context(), c, opts.Name)
			if err != nil {
				return err
			}
			if len(vs) == 0 {
				return &resource.NotFoundError{Kind: "template", Ref: opts.Name}
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), Spec, vs)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// DeleteOptions are the inputs of template delete.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Yes     bool
}

// NewCmdDelete returns template delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a template version",
		Long: `Delete one template version (a name means its latest version). On a terminal the command
asks for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example:           "  brokkrctl template delete 1f3a8c2d-... --yes",
		Aliases:           []string{"rm"},
		Args:              cmdutil.ExactArgs(1, "template NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(resource.CompleteTemplates(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required when not running interactively")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			t, err := resource.Template(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if err := cmdutil.ConfirmDestructive(f, opts.Yes, fmt.Sprintf("Delete template %s version %d?", t.Name, t.Version)); err != nil {
				return err
			}
			if err := c.Templates().Delete(cmd.Context(), t.ID); err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Deleted template %s version %d", t.Name, t.Version)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Delete without asking for confirmation")
	return cmd
}
