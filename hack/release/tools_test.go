package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// goreleaserVersion is the GoReleaser release the pipeline is checked with. The Makefile's
// GORELEASER_VERSION names the same one (TestMakefilePinsGoreleaser keeps them together).
const goreleaserVersion = "v2.15.1"

// underCI reports whether the tests run in CI, where a missing tool is a failure, not a skip.
func underCI() bool { return os.Getenv("CI") == "true" }

// requireTool returns the path of a program the test needs: a developer without it gets
// a skip, CI a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s is needed for this test: %v", name, err)
	}
	return p
}

// missing stops the test for want of something on the machine: a failure under CI,
// a skip elsewhere.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if underCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// repoRoot is the repository's top directory, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "goreleaser.yaml")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// testContext returns a context that ends before the test binary's own deadline, so a
// hung command fails this test with its output instead of killing the whole binary.
func testContext(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	if dl, ok := t.Deadline(); ok {
		if left := time.Until(dl) - 30*time.Second; left < limit {
			limit = left
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// run executes a command and returns its standard output; a non-zero exit fails the test
// and shows both streams.
func run(ctx context.Context, t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(ctx, dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runErr is run that hands the error back instead of failing the test.
func runErr(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\nstdout:\n%s\nstderr:\n%s",
			name, strings.Join(args, " "), err, tail(stdout.String()), tail(stderr.String()))
	}
	return stdout.String(), nil
}

// tail keeps the end of a long command output for a failure message.
func tail(s string) string {
	const max = 12000
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}

// goreleaserBinary returns GoReleaser at goreleaserVersion, built from the Go module proxy
// on first use and kept under $HOME/.cache/brokkr/tools, like the Makefile's k8s assets.
// Building it takes a few minutes on a cold machine; later runs reuse the binary.
func goreleaserBinary(ctx context.Context, t *testing.T) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		missing(t, "no home directory for the tool cache: %v", err)
	}
	dir := filepath.Join(home, ".cache", "brokkr", "tools")
	bin := filepath.Join(dir, "goreleaser-"+goreleaserVersion)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		missing(t, "go is needed to build goreleaser: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Build into a private directory and move the result into place, so an interrupted
	// build never leaves a half-written binary where the next run would trust it.
	tmp, err := os.MkdirTemp(dir, ".goreleaser-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	env := append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "CGO_ENABLED=0")
	if _, err := runErr(ctx, tmp, env, goTool, "install", "github.com/goreleaser/goreleaser/v2@"+goreleaserVersion); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (out of time after %s: what was compiled stays in the Go build cache; run again or raise -timeout)",
				err, time.Since(start).Round(time.Second))
		}
		missing(t, "build goreleaser %s from the module proxy: %v", goreleaserVersion, err)
	}
	if err := os.Rename(filepath.Join(tmp, "goreleaser"), bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built goreleaser %s into %s in %s", goreleaserVersion, bin, time.Since(start).Round(time.Second))
	return bin
}

// releaseConfig is the part of goreleaser.yaml the tests compare the packaging files with.
type releaseConfig struct {
	Builds []struct {
		ID      string   `yaml:"id"`
		Main    string   `yaml:"main"`
		Binary  string   `yaml:"binary"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
		Ldflags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	NFPMs []nfpmConfig `yaml:"nfpms"`
}

// nfpmConfig is one package of goreleaser.yaml's nfpms section.
type nfpmConfig struct {
	ID          string   `yaml:"id"`
	IDs         []string `yaml:"ids"`
	PackageName string   `yaml:"package_name"`
	Formats     []string `yaml:"formats"`
	Bindir      string   `yaml:"bindir"`
	Contents    []struct {
		Src      string `yaml:"src"`
		Dst      string `yaml:"dst"`
		Type     string `yaml:"type"`
		Packager string `yaml:"packager"`
	} `yaml:"contents"`
	Scripts map[string]string `yaml:"scripts"`
}

// loadConfig reads goreleaser.yaml from the repository root.
func loadConfig(t *testing.T, root string) releaseConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c releaseConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("goreleaser.yaml: %v", err)
	}
	return c
}

// nfpm returns the package with the given id.
func (c releaseConfig) nfpm(t *testing.T, id string) nfpmConfig {
	t.Helper()
	for _, p := range c.NFPMs {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("goreleaser.yaml has no nfpms entry %q", id)
	return nfpmConfig{}
}

// reduceConfig rewrites goreleaser.yaml for a quick local snapshot: every build for
// linux/amd64 only, no Homebrew cask, and dist as the output directory. It works on the
// YAML node tree, so everything else (anchors, octal modes, templates) stays as written.
func reduceConfig(src []byte, dist string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse goreleaser.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("goreleaser.yaml: not a mapping")
	}
	top := doc.Content[0]
	builds := mapValue(top, "builds")
	if builds == nil || builds.Kind != yaml.SequenceNode || len(builds.Content) == 0 {
		return nil, errors.New("goreleaser.yaml: no builds")
	}
	for _, b := range builds.Content {
		if b.Kind != yaml.MappingNode {
			return nil, errors.New("goreleaser.yaml: a build is not a mapping")
		}
		setMapValue(b, "goos", stringSeq("linux"))
		setMapValue(b, "goarch", stringSeq("amd64"))
	}
	deleteMapKey(top, "homebrew_casks")
	setMapValue(top, "dist", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: dist})
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("write reduced configuration: %w", err)
	}
	return out, nil
}

// mapValue returns the value node of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setMapValue replaces the value of key in a mapping node, adding the key when missing.
func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// deleteMapKey removes key and its value from a mapping node.
func deleteMapKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// stringSeq is a YAML flow sequence of strings.
func stringSeq(vals ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, v := range vals {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
	}
	return n
}
