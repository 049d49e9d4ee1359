package template

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

func sp(s string) *string { return &s }

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Format: output.FormatTable}},
		{Name: "latest", Args: []string{"--latest", "-o", "wide"}, Want: ListOptions{Latest: true, Format: output.FormatWide}},
		{Name: "bad format", Args: []string{"-o", "x"}, WantErr: true},
		{Name: "extra argument", Args: []string{"web"}, WantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "content", Args: []string{"web", "--content"}, Want: GetOptions{Ref: "web", Content: true, Format: output.FormatTable}},
		{Name: "yaml", Args: []string{"web", "-o", "yaml"}, Want: GetOptions{Ref: "web", Format: output.FormatYAML}},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdVersions(t *testing.T) {
	cmdtest.RunTable(t, NewCmdVersions, func(o *VersionsOptions) { o.Factory = nil }, []cmdtest.FlagCase[VersionsOptions]{
		{Name: "name", Args: []string{"web", "-o", "json"}, Want: VersionsOptions{Name: "web", Format: output.FormatJSON}},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{"web", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	cmdtest.RunTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeleteOptions]{
		{Name: "yes", Args: []string{"web", "--yes"}, Want: DeleteOptions{Ref: "web", Yes: true}},
		{Name: "tty asks later", TTY: true, Args: []string{"web"}, Want: DeleteOptions{Ref: "web"}},
		{Name: "no tty needs yes", Args: []string{"web"}, WantErr: true},
		{Name: "missing", Args: []string{"-y"}, WantErr: true},
	})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewCmdCreate(t *testing.T) {
	dir := t.TempDir()
	tmpl := writeFile(t, dir, "web.tera", "replicas: {{ replicas }}\n")
	schema := writeFile(t, dir, "schema.yaml", "type: object\nrequired: [replicas]\n")
	badSchema := writeFile(t, dir, "bad.yaml", "type: [object\n")
	cmdtest.RunTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []cmdtest.FlagCase[CreateOptions]{
		{Name: "file without schema", Args: []string{"--name", "web", "-f", tmpl},
			Want: CreateOptions{Name: "web", File: tmpl, Format: output.FormatTable,
				Request: client.CreateTemplateRequest{Name: "web", TemplateContent: "replicas: {{ replicas }}\n", ParametersSchema: "{}"}}},
		{Name: "stdin with yaml schema and description", Args: []string{"--name", "web", "-f", "-", "--schema", schema, "--description", "d", "-o", "json"},
			Stdin: "kind: {{ kind }}\n",
			Want: CreateOptions{Name: "web", File: "-", Schema: schema, Description: "d", Format: output.FormatJSON,
				Request: client.CreateTemplateRequest{Name: "web", Description: sp("d"), TemplateContent: "kind: {{ kind }}\n",
					ParametersSchema: `{"required":["replicas"],"type":"object"}`}}},
		{Name: "name as argument", Args: []string{"web", "-f", tmpl},
			Want: CreateOptions{Name: "web", File: tmpl, Format: output.FormatTable,
				Request: client.CreateTemplateRequest{Name: "web", TemplateContent: "replicas: {{ replicas }}\n", ParametersSchema: "{}"}}},
		{Name: "argument and another --name", Args: []string{"web", "--name", "api", "-f", tmpl}, WantErr: true},
		{Name: "two arguments", Args: []string{"web", "api", "-f", tmpl}, WantErr: true},
		{Name: "no name", Args: []string{"-f", tmpl}, WantErr: true},
		{Name: "no file", Args: []string{"--name", "web"}, WantErr: true},
		{Name: "bad schema", Args: []string{"--name", "web", "-f", tmpl, "--schema", badSchema}, WantErr: true},
		{Name: "bad format", Args: []string{"--name", "web", "-f", tmpl, "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []cmdtest.FlagCase[UpdateOptions]{
		{Name: "file", Args: []string{"web", "-f", "web.tera"}, Want: UpdateOptions{Ref: "web", File: "web.tera", Format: output.FormatTable}},
		{Name: "schema and description", Args: []string{"web", "--schema", "s.json", "--description", "", "-o", "yaml"},
			Want: UpdateOptions{Ref: "web", Schema: "s.json", Description: sp(""), Format: output.FormatYAML}},
		{Name: "nothing to change", Args: []string{"web"}, WantErr: true},
		{Name: "missing template", Args: []string{"-f", "x"}, WantErr: true},
		{Name: "bad format", Args: []string{"web", "-f", "x", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdInstantiate(t *testing.T) {
	dir := t.TempDir()
	values := writeFile(t, dir, "values.yaml", "replicas: 2\nimage:\n  name: web\n  tag: \"1.0\"\n")
	list := writeFile(t, dir, "list.yaml", "- a\n")
	cmdtest.RunTable(t, NewCmdInstantiate, func(o *InstantiateOptions) { o.Factory = nil }, []cmdtest.FlagCase[InstantiateOptions]{
		{Name: "no parameters", Args: []string{"web", "--stack", "web-prod"},
			Want: InstantiateOptions{Ref: "web", Stack: "web-prod", Parameters: map[string]any{}, Format: output.FormatTable}},
		{Name: "values file, --set wins and nests", Args: []string{"web", "--stack", "s", "--values", values,
			"--set", "replicas=3", "--set", "image.tag=1.4.2", "--set", "debug=true", "--set", `quoted="3"`},
			Want: InstantiateOptions{Ref: "web", Stack: "s", ValuesFile: values,
				Set: []string{"replicas=3", "image.tag=1.4.2", "debug=true", `quoted="3"`}, Format: output.FormatTable,
				Parameters: map[string]any{"replicas": 3, "debug": true, "quoted": "3",
					"image": map[string]any{"name": "web", "tag": "1.4.2"}}}},
		{Name: "values on stdin", Args: []string{"web", "--stack", "s", "--values", "-", "-o", "json"}, Stdin: `{"a": [1, "b"]}`,
			Want: InstantiateOptions{Ref: "web", Stack: "s", ValuesFile: "-", Format: output.FormatJSON,
				Parameters: map[string]any{"a": []any{1, "b"}}}},
		{Name: "no stack", Args: []string{"web", "--set", "a=1"}, WantErr: true},
		{Name: "missing template", Args: []string{"--stack", "s"}, WantErr: true},
		{Name: "set without value", Args: []string{"web", "--stack", "s", "--set", "replicas"}, WantErr: true},
		{Name: "set with empty segment", Args: []string{"web", "--stack", "s", "--set", "image..tag=1"}, WantErr: true},
		{Name: "values not a mapping", Args: []string{"web", "--stack", "s", "--values", list}, WantErr: true},
		{Name: "bad format", Args: []string{"web", "--stack", "s", "-o", "x"}, WantErr: true},
	})
}
