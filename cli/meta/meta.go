// Package meta implements the label and annotation verbs that agents, stacks and templates
// share: "<noun> label list|add|remove" and "<noun> annotation list|add|remove". A noun
// connects them to its API with For.
package meta

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Label is one label as the label verbs print it.
type Label struct {
	Label string `json:"label"`
}

// Annotation is one annotation as the annotation verbs print it.
type Annotation struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LabelSpec is the table of labels.
var LabelSpec = output.Spec[Label]{
	Kind: "label",
	Name: func(l Label) string { return l.Label },
	Columns: []output.Column[Label]{
		output.Text("LABEL", func(l Label) string { return l.Label }),
	},
}

// AnnotationSpec is the table of annotations.
var AnnotationSpec = output.Spec[Annotation]{
	Kind: "annotation",
	Name: func(a Annotation) string { return a.Key },
	Columns: []output.Column[Annotation]{
		output.Text("KEY", func(a Annotation) string { return a.Key }),
		output.Text("VALUE", func(a Annotation) string { return a.Value }),
	},
}

// API connects the label and annotation verbs to one kind of resource.
type API struct {
	// Noun is the resource's command name ("agent", "stack", "template").
	Noun string
	// Complete completes the resource argument.
	Complete cobra.CompletionFunc
	// Resolve turns the argument into the resource id.
	Resolve func(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error)

	Labels           func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Label, error)
	AddLabel         func(ctx context.Context, c *client.Client, id uuid.UUID, label string) error
	RemoveLabel      func(ctx context.Context, c *client.Client, id uuid.UUID, label string) error
	Annotations      func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Annotation, error)
	AddAnnotation    func(ctx context.Context, c *client.Client, id uuid.UUID, key, value string) error
	RemoveAnnotation func(ctx context.Context, c *client.Client, id uuid.UUID, key string) error
}

// Service is the label and annotation part of a client service (client.Agents,
// client.Stacks, client.Templates), with L and A its label and annotation types.
type Service[L, A any] interface {
	Labels(ctx context.Context, id uuid.UUID) ([]L, error)
	AddLabel(ctx context.Context, id uuid.UUID, label string) (L, error)
	RemoveLabel(ctx context.Context, id uuid.UUID, label string) error
	Annotations(ctx context.Context, id uuid.UUID) ([]A, error)
	AddAnnotation(ctx context.Context, id uuid.UUID, key, value string) (A, error)
	RemoveAnnotation(ctx context.Context, id uuid.UUID, key string) error
}

// For builds the API of a noun from its client service: service picks it from a client,
// label and annotation read the wire types.
func For[L, A any](noun string, comp cobra.CompletionFunc, resolve func(context.Context, *client.Client, string) (uuid.UUID, error),
	service func(*client.Client) Service[L, A], label func(L) string, annotation func(A) Annotation) API {
	return API{
		Noun:     noun,
		Complete: comp,
		Resolve:  resolve,
		Labels: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Label, error) {
			ls, err := service(c).Labels(ctx, id)
			out := make([]Label, len(ls))
			for i, l := range ls {
				out[i] = Label{Label: label(l)}
			}
			return out, err
		},
		AddLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			_, err := service(c).AddLabel(ctx, id, l)
			return err
		},
		RemoveLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			return service(c).RemoveLabel(ctx, id, l)
		},
		Annotations: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Annotation, error) {
			as, err := service(c).Annotations(ctx, id)
			out := make([]Annotation, len(as))
			for i, a := range as {
				out[i] = annotation(a)
			}
			return out, err
		},
		AddAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k, v string) error {
			_, err := service(c).AddAnnotation(ctx, id, k, v)
			return err
		},
		RemoveAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k string) error {
			return service(c).RemoveAnnotation(ctx, id, k)
		},
	}
}

// withID builds the client and resolves ref to the resource id, then runs fn.
func (api API) withID(ctx context.Context, f *cmdutil.Factory, ref string, fn func(c *client.Client, id uuid.UUID) error) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	id, err := api.Resolve(ctx, c, ref)
	if err != nil {
		return err
	}
	return fn(c, id)
}

// completeAfterFirst completes the resource as the first argument and, after it, what list
// returns for that resource.
func (api API) completeAfterFirst(f *cmdutil.Factory, list func(ctx context.Context, c *client.Client, id uuid.UUID) ([]complete.Candidate, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return api.Complete(cmd, args, toComplete)
		}
		return complete.From(f, func(ctx context.Context, c *client.Client) ([]complete.Candidate, error) {
			id, err := api.Resolve(ctx, c, args[0])
			if err != nil {
				return nil, err
			}
			return list(ctx, c, id)
		})(cmd, args, toComplete)
	}
}

// a is the noun with its indefinite article: "an agent", "a stack", "a template".
func (api API) a() string { return article(api.Noun) + " " + api.Noun }

// article is the indefinite article of word, by its first sound as far as the spelling tells:
// "an" before a, e, i, o and u, except where u sounds like "you" (unit, user, usual, UUID).
func article(word string) string {
	w := strings.ToLower(word)
	for _, you := range []string{"uni", "use", "usu", "uu"} {
		if strings.HasPrefix(w, you) {
			return "a"
		}
	}
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}

// upperFirst capitalises the first letter of s.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
