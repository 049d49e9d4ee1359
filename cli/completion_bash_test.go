package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/client"
)

// TestBashCompletionCompletesStackNames loads the generated bash completion script into a
// real bash, as `source <(brokkrctl completion bash)` does, and asks it to complete
// `brokkrctl stack get <TAB>`: the broker's stack names must come back.
func TestBashCompletionCompletesStackNames(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed for this test: ", err)
	}
	e := newEnv(t)
	ctx := context.Background()
	g, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-frontend", "web-backend", "batch"} {
		if _, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: g.Generator.ID}); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "brokkrctl")
	build := exec.Command("go", "build", "-o", bin, "../cmd/brokkrctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build brokkrctl: %v\n%s", err, out)
	}
	// Completion in bash builds on the bash-completion package, as on any workstation.
	const framework = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(framework); err != nil {
		t.Fatalf("this test needs Debian's bash-completion package (%s): %v", framework, err)
	}
	script := `set -e
source ` + framework + `
source <("$BIN" completion bash)
complete -p brokkrctl >/dev/null
set +e # compopt complains outside an interactive completion; the replies are what count
COMP_WORDS=(brokkrctl stack get web-)
COMP_CWORD=3
COMP_LINE="brokkrctl stack get web-"
COMP_POINT=${#COMP_LINE}
__start_brokkrctl brokkrctl web- get 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
`
	cmd := exec.Command(bash, "-c", script)
	// The completion function runs `brokkrctl __complete ...` by name, as a shell would.
	cmd.Env = append(os.Environ(), "BIN="+bin, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"BROKKR_BROKER_URL="+e.url, "BROKKR_PAK="+e.admin,
		"HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	want := map[string]bool{"web-frontend": false, "web-backend": false}
	for _, w := range got {
		if _, ok := want[w]; ok {
			want[w] = true
		}
		if w == "batch" {
			t.Fatalf("completion offered a stack that does not match the prefix: %q", got)
		}
	}
	for name, seen := range want {
		if !seen {
			t.Fatalf("completion of `stack get web-` lacks %s; got %q", name, got)
		}
	}
}
