package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/internal/manifest"
)

func TestBuildBundle(t *testing.T) {
	tests := []struct {
		name    string
		files   []Manifest
		want    string
		wantErr string
	}{
		{
			name:  "one file keeps its content and ends with one newline",
			files: []Manifest{{Name: "a.yaml", Content: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: configmap}\n\n\n")}},
			want:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: configmap}\n",
		},
		{
			name: "files are joined with a separator, trailing whitespace trimmed",
			files: []Manifest{
				{Name: "a.yaml", Content: []byte("apiVersion: v1\nmetadata: {name: a}\nkind: A\n  \t\n")},
				{Name: "b.yml", Content: []byte("apiVersion: v1\nkind: B\nmetadata: {name: b}")},
			},
			want: "apiVersion: v1\nmetadata: {name: a}\nkind: A\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n",
		},
		{
			name: "leading whitespace and inner documents are kept as written",
			files: []Manifest{
				{Name: "a.yaml", Content: []byte("\n# comment\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: C\nmetadata: {name: c}\n")},
			},
			want: "\n# comment\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: C\nmetadata: {name: c}\n",
		},
		{
			name:  "null documents are allowed",
			files: []Manifest{{Name: "a.yaml", Content: []byte("---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n")}},
			want:  "---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n---\n",
		},
		{
			name:    "missing kind names the file and document",
			files:   []Manifest{{Name: "dir/x.yaml", Content: []byte("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\n")}},
			wantErr: "dir/x.yaml: document 2: kind is required",
		},
		{
			name:    "apiVersion must be a string",
			files:   []Manifest{{Name: "x.yaml", Content: []byte("apiVersion: 1\nkind: A\nmetadata: {name: a}\n")}},
			wantErr: "x.yaml: document 1: apiVersion is required",
		},
		{
			name:    "not a mapping",
			files:   []Manifest{{Name: "x.yaml", Content: []byte("- a\n- b\n")}},
			wantErr: "x.yaml: document 1: not a mapping",
		},
		{
			name:    "parse errors name the file",
			files:   []Manifest{{Name: "bad.yaml", Content: []byte("apiVersion: [v1\n")}},
			wantErr: "bad.yaml: document 1:",
		},
		{name: "no files", wantErr: "no manifests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildBundle(tt.files)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("bundle\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestChecksumIsSHA256OfBundle(t *testing.T) {
	b, err := BuildBundle([]Manifest{{Name: "a", Content: []byte("apiVersion: v1\nkind: A\nmetadata: {name: a}\n")}, {Name: "b", Content: []byte("apiVersion: v1\nkind: B\nmetadata: {name: b}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n"))
	if got := manifest.Checksum(b); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("checksum %s", got)
	}
}

func TestReadManifestDir(t *testing.T) {
	fsys := fstest.MapFS{
		"m/20-b.yml":      {Data: []byte("b")},
		"m/10-a.yaml":     {Data: []byte("a")},
		"m/README.md":     {Data: []byte("x")},
		"m/30-c.YAML":     {Data: []byte("c")},
		"m/sub/00-z.yaml": {Data: []byte("z")},
	}
	ms, err := ReadManifestDir(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name+"="+string(m.Content))
	}
	if got := strings.Join(names, ","); got != "10-a.yaml=a,20-b.yml=b,30-c.YAML=c" {
		t.Fatalf("read %s", got)
	}
	if _, err := ReadManifestDir(fstest.MapFS{"e/x.txt": {}}, "e"); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestReadManifestsStdin(t *testing.T) {
	ms, err := ReadManifests("-", strings.NewReader("apiVersion: v1\nkind: A\n"))
	if err != nil || len(ms) != 1 || ms[0].Name != "stdin" {
		t.Fatalf("%+v %v", ms, err)
	}
}

func TestApplyFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*ApplyOptions) bool
	}{
		{args: []string{"--stack", "web"}, wantErr: "-f is required"},
		{args: []string{"-f", "dir"}, wantErr: "--stack is required"},
		{args: []string{"-f", "dir", "--stack", "web", "-o", "xml"}, wantErr: "invalid output format"},
		{args: []string{"-f", "-", "--stack", "web", "--label", "a", "--label", "b", "--generator", "ci", "-o", "json"},
			check: func(o *ApplyOptions) bool {
				return o.File == "-" && o.Stack == "web" && strings.Join(o.Labels, ",") == "a,b" && o.Generator == "ci" && o.Format == "json"
			}},
		{args: []string{"-f", "-", "--stack", "web", "--target-label", "env:prod", "--label", "edge"},
			check: func(o *ApplyOptions) bool { return strings.Join(o.Labels, ",") == "env:prod,edge" }},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory("test", ios)
			var got *ApplyOptions
			cmd := NewCmdApply(f, func(o *ApplyOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
					t.Fatalf("error %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got == nil || !tt.check(got) {
				t.Fatalf("options %+v, %v", got, err)
			}
		})
	}
}
