// Package template implements "brokkrctl template": parameterised stack templates, their
// versions, required labels and annotations, and instantiating them into stacks.
package template

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/meta"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
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
		Example: `  brokkrctl template create web -f web.yaml.tera --schema schema.yaml
  brokkrctl template instantiate web --stack web-prod --set replicas=3 --set image.tag=1.4.2
  brokkrctl template versions web`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdVersions(f, nil), NewCmdInstantiate(f, nil),
		meta.NewCmdLabel(f, MetaAPI(f)), meta.NewCmdAnnotation(f, MetaAPI(f)))
	return cmd
}

// MetaAPI connects the label and annotation verbs to templates.
func MetaAPI(f *cmdutil.Factory) meta.API {
	return meta.For("template", complete.Templates(f), resolve.TemplateID,
		func(c *client.Client) meta.Service[client.TemplateLabel, client.TemplateAnnotation] {
			return c.Templates()
		},
		func(l client.TemplateLabel) string { return l.Label },
		func(a client.TemplateAnnotation) meta.Annotation { return meta.Annotation{Key: a.Key, Value: a.Value} })
}

// templateArg is the template argument of the verbs on one template version.
func templateArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "template NAME or ID", Complete: complete.Templates(f)}
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
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List templates",
		Long:    "List the template versions the PAK can read; --latest keeps the newest version of each name.",
		Example: "  brokkrctl template list --latest\n  brokkrctl template list -o wide",
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList})
	cmd.Flags().BoolVar(&opts.Latest, "latest", false, "Only the newest version of each template")
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.Template, func(ctx context.Context, c *client.Client) ([]client.StackTemplate, error) {
		ts, err := c.Templates().List(ctx)
		if err != nil || !opts.Latest {
			return ts, err
		}
		return latestOnly(ts), nil
	})
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
	cmd := verb.OneArg(&cobra.Command{
		Use:     "get NAME|ID",
		Short:   "Show a template version",
		Long:    "Show a template version (a name means its latest version). --content prints the template text only.",
		Example: "  brokkrctl template get web -o yaml\n  brokkrctl template get web --content > web.yaml.tera",
	}, templateArg(f), verb.Setup[GetOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runGet})
	cmd.Flags().BoolVar(&opts.Content, "content", false, "Print the template text only")
	return cmd
}

func runGet(ctx context.Context, opts *GetOptions) error {
	if !opts.Content {
		return verb.Get(ctx, opts.Factory, opts.Format, specs.Template, verb.Ref(resolve.Template, opts.Ref))
	}
	t, err := verb.Do(ctx, opts.Factory, verb.Ref(resolve.Template, opts.Ref))
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(opts.Factory.IOStreams.Out, t.TemplateContent)
	return err
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
	return verb.OneArg(&cobra.Command{
		Use:     "versions NAME",
		Short:   "List every version of a template",
		Example: "  brokkrctl template versions web",
	}, verb.Arg{What: "template NAME", Complete: complete.TemplateNames(f)},
		verb.Setup[VersionsOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Name, RunF: runF, Run: runVersions})
}

func runVersions(ctx context.Context, opts *VersionsOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.Template, func(ctx context.Context, c *client.Client) ([]client.StackTemplate, error) {
		vs, err := resolve.TemplateVersions(ctx, c, opts.Name)
		if err == nil && len(vs) == 0 {
			err = &resolve.NotFoundError{Kind: "template", Ref: opts.Name}
		}
		return vs, err
	})
}

// DeleteOptions are the inputs of template delete.
type DeleteOptions = verb.DeleteOptions

// NewCmdDelete returns template delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a template version",
		Long: `Delete one template version (a name means its latest version). On a terminal the command
asks for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example: "  brokkrctl template delete 1f3a8c2d-... --yes",
		Aliases: []string{"rm"},
	}, templateArg(f), resolve.Template, verb.Deletion[client.StackTemplate]{
		Question: func(t client.StackTemplate) string {
			return fmt.Sprintf("Delete template %s version %d?", t.Name, t.Version)
		},
		Delete: func(ctx context.Context, c *client.Client, t client.StackTemplate) error {
			return c.Templates().Delete(ctx, t.ID)
		},
		Done: func(t client.StackTemplate) string {
			return fmt.Sprintf("Deleted template %s version %d", t.Name, t.Version)
		},
	})
}
