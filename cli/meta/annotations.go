package meta

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// AnnotationsOptions are the inputs of annotation add and annotation remove (which uses the
// keys only).
type AnnotationsOptions struct {
	Factory     *cmdutil.Factory
	API         API
	Ref         string
	Annotations []Annotation
}

// NewCmdAnnotation returns "<noun> annotation" with list, add and remove.
func NewCmdAnnotation(f *cmdutil.Factory, api API) *cobra.Command {
	upper := strings.ToUpper(api.Noun)
	cmd := &cobra.Command{
		Use:     "annotation <command>",
		Aliases: []string{"annotations"},
		Short:   "Manage the annotations of " + api.a(),
		Example: fmt.Sprintf("  brokkrctl %[1]s annotation list %[2]s\n  brokkrctl %[1]s annotation add %[2]s region=eu tier=web\n  brokkrctl %[1]s annotation remove %[2]s region", api.Noun, upper),
	}
	cmd.AddCommand(NewCmdAnnotationList(f, api, nil), NewCmdAnnotationAdd(f, api, nil), NewCmdAnnotationRemove(f, api, nil))
	return cmd
}

// NewCmdAnnotationList returns "<noun> annotation list"; runF replaces the run function in
// tests.
func NewCmdAnnotationList(f *cmdutil.Factory, api API, runF func(*ListOptions) error) *cobra.Command {
	return newListCmd(f, api, runF, runAnnotationList, "annotations",
		fmt.Sprintf("  brokkrctl %s annotation list %s -o yaml", api.Noun, strings.ToUpper(api.Noun)))
}

func runAnnotationList(ctx context.Context, opts *ListOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, AnnotationSpec, verb.Via(opts.API.Resolve, opts.Ref,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Annotation, error) {
			anns, err := opts.API.Annotations(ctx, c, id)
			if err != nil {
				return nil, err
			}
			sort.Slice(anns, func(i, j int) bool { return anns[i].Key < anns[j].Key })
			return anns, nil
		}))
}

// NewCmdAnnotationAdd returns "<noun> annotation add"; runF replaces the run function in
// tests.
func NewCmdAnnotationAdd(f *cmdutil.Factory, api API, runF func(*AnnotationsOptions) error) *cobra.Command {
	opts := &AnnotationsOptions{Factory: f, API: api}
	return &cobra.Command{
		Use:   "add " + strings.ToUpper(api.Noun) + " KEY=VALUE...",
		Short: "Add annotations to " + api.a(),
		Long: "Add annotations to " + api.a() + `. A key it already carries is a conflict: remove the
annotation first to change its value.`,
		Example:           fmt.Sprintf("  brokkrctl %s annotation add %s region=eu", api.Noun, strings.ToUpper(api.Noun)),
		Args:              cmdutil.MinArgs(2, api.Noun+" and at least one KEY=VALUE"),
		ValidArgsFunction: complete.OnlyFirstArg(api.Complete),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Annotations = make([]Annotation, 0, len(args)-1)
			for _, p := range args[1:] {
				k, v, ok := strings.Cut(p, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return cmdutil.FlagErrorf("invalid annotation %q: want KEY=VALUE", p)
				}
				opts.Annotations = append(opts.Annotations, Annotation{Key: strings.TrimSpace(k), Value: v})
			}
			opts.Ref = args[0]
			return cmdutil.Run(cmd, opts, runF, runAnnotationAdd)
		},
	}
}

func runAnnotationAdd(ctx context.Context, opts *AnnotationsOptions) error {
	api := opts.API
	return api.withID(ctx, opts.Factory, opts.Ref, func(c *client.Client, id uuid.UUID) error {
		for _, p := range opts.Annotations {
			if err := api.AddAnnotation(ctx, c, id, p.Key, p.Value); err != nil {
				return fmt.Errorf("add annotation %s: %w", p.Key, err)
			}
			output.Successf(opts.Factory.IOStreams, "Added annotation %s=%s to %s %s", p.Key, p.Value, api.Noun, opts.Ref)
		}
		return nil
	})
}

// NewCmdAnnotationRemove returns "<noun> annotation remove"; runF replaces the run function
// in tests.
func NewCmdAnnotationRemove(f *cmdutil.Factory, api API, runF func(*AnnotationsOptions) error) *cobra.Command {
	opts := &AnnotationsOptions{Factory: f, API: api}
	return &cobra.Command{
		Use:     "remove " + strings.ToUpper(api.Noun) + " KEY...",
		Aliases: []string{"rm"},
		Short:   "Remove annotations from " + api.a(),
		Example: fmt.Sprintf("  brokkrctl %s annotation remove %s region", api.Noun, strings.ToUpper(api.Noun)),
		Args:    cmdutil.MinArgs(2, api.Noun+" and at least one key"),
		ValidArgsFunction: api.completeAfterFirst(f, func(ctx context.Context, c *client.Client, id uuid.UUID) ([]complete.Candidate, error) {
			anns, err := api.Annotations(ctx, c, id)
			out := make([]complete.Candidate, len(anns))
			for i, a := range anns {
				out[i] = complete.Candidate{Value: a.Key, Description: a.Value}
			}
			return out, err
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref, opts.Annotations = args[0], make([]Annotation, 0, len(args)-1)
			for _, k := range args[1:] {
				k, _, _ = strings.Cut(k, "=")
				opts.Annotations = append(opts.Annotations, Annotation{Key: k})
			}
			return cmdutil.Run(cmd, opts, runF, runAnnotationRemove)
		},
	}
}

func runAnnotationRemove(ctx context.Context, opts *AnnotationsOptions) error {
	api := opts.API
	return api.withID(ctx, opts.Factory, opts.Ref, func(c *client.Client, id uuid.UUID) error {
		for _, a := range opts.Annotations {
			if err := api.RemoveAnnotation(ctx, c, id, a.Key); err != nil {
				return fmt.Errorf("remove annotation %s: %w", a.Key, err)
			}
			output.Successf(opts.Factory.IOStreams, "Removed annotation %s from %s %s", a.Key, api.Noun, opts.Ref)
		}
		return nil
	})
}
