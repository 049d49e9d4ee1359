package meta

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
)

var testAPI = API{Noun: "stack"}

// bind fixes the API of a verb constructor, so cmdtest can build it.
func bind[O any](newCmd func(*cmdutil.Factory, API, func(*O) error) *cobra.Command) func(*cmdutil.Factory, func(*O) error) *cobra.Command {
	return func(f *cmdutil.Factory, runF func(*O) error) *cobra.Command { return newCmd(f, testAPI, runF) }
}

func TestNewCmdLabelList(t *testing.T) {
	for _, newCmd := range []func(*cmdutil.Factory, API, func(*ListOptions) error) *cobra.Command{NewCmdLabelList, NewCmdAnnotationList} {
		cmdtest.RunTable(t, bind(newCmd), func(o *ListOptions) { o.Factory, o.API = nil, API{} }, []cmdtest.FlagCase[ListOptions]{
			{Name: "json", Args: []string{"web", "-o", "json"}, Want: ListOptions{Ref: "web", Format: output.FormatJSON}},
			{Name: "missing", WantErr: true},
			{Name: "two", Args: []string{"a", "b"}, WantErr: true},
			{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
		})
	}
}

func TestNewCmdLabelChange(t *testing.T) {
	for _, newCmd := range []func(*cmdutil.Factory, API, func(*LabelsOptions) error) *cobra.Command{NewCmdLabelAdd, NewCmdLabelRemove} {
		cmdtest.RunTable(t, bind(newCmd), func(o *LabelsOptions) { o.Factory, o.API = nil, API{} }, []cmdtest.FlagCase[LabelsOptions]{
			{Name: "labels", Args: []string{"web", "gpu", "edge"}, Want: LabelsOptions{Ref: "web", Labels: []string{"gpu", "edge"}}},
			{Name: "no label", Args: []string{"web"}, WantErr: true},
			{Name: "nothing", WantErr: true},
		})
	}
}

func TestNewCmdAnnotationAdd(t *testing.T) {
	cmdtest.RunTable(t, bind(NewCmdAnnotationAdd), func(o *AnnotationsOptions) { o.Factory, o.API = nil, API{} }, []cmdtest.FlagCase[AnnotationsOptions]{
		{Name: "pairs", Args: []string{"web", "region=eu", " tier =web=1", "empty="},
			Want: AnnotationsOptions{Ref: "web", Annotations: []Annotation{{Key: "region", Value: "eu"}, {Key: "tier", Value: "web=1"}, {Key: "empty"}}}},
		{Name: "no value", Args: []string{"web", "region"}, WantErr: true},
		{Name: "no key", Args: []string{"web", "=eu"}, WantErr: true},
		{Name: "no pair", Args: []string{"web"}, WantErr: true},
	})
}

func TestNewCmdAnnotationRemove(t *testing.T) {
	cmdtest.RunTable(t, bind(NewCmdAnnotationRemove), func(o *AnnotationsOptions) { o.Factory, o.API = nil, API{} }, []cmdtest.FlagCase[AnnotationsOptions]{
		{Name: "keys", Args: []string{"web", "region", "tier=web"},
			Want: AnnotationsOptions{Ref: "web", Annotations: []Annotation{{Key: "region"}, {Key: "tier"}}}},
		{Name: "no key", Args: []string{"web"}, WantErr: true},
	})
}

func TestArticle(t *testing.T) {
	for word, want := range map[string]string{
		"agent": "an", "annotation": "an", "object": "an", "event": "an", "update": "an", "item": "an",
		"stack": "a", "template": "a", "generator": "a", "webhook": "a",
		"user": "a", "unit": "a", "usual": "a", "UUID": "a", "": "a",
	} {
		if got := article(word); got != want {
			t.Errorf("article(%q) = %q, want %q", word, got, want)
		}
	}
	for noun, want := range map[string]string{"agent": "Manage the labels of an agent", "stack": "Manage the labels of a stack",
		"template": "Manage the labels of a template"} {
		if got := NewCmdLabel(cmdtest.Factory(false, ""), API{Noun: noun}).Short; got != want {
			t.Errorf("label help of %s: %q, want %q", noun, got, want)
		}
	}
}
