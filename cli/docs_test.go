package cli_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/brokkr/brokkr/cli"
	"github.com/brokkr/brokkr/cli/cmd/gendocs"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
)

// TestDocsUpToDate fails when docs/cli.md no longer matches the command tree.
func TestDocsUpToDate(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := cli.NewRootCmd(cmdutil.NewFactory("test", ios))
	var got bytes.Buffer
	if err := gendocs.Markdown(&got, root); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../docs/cli.md")
	if err != nil {
		t.Fatalf("%v: run make docs", err)
	}
	if !bytes.Equal(want, got.Bytes()) {
		t.Fatal("docs/cli.md is out of date with the command tree: run make docs and commit the result")
	}
}

// TestEveryCommandHasExample keeps the help useful: every runnable, visible command shows an
// example.
func TestEveryCommandHasExample(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := cli.NewRootCmd(cmdutil.NewFactory("test", ios))
	stack := root.Commands()
	for len(stack) > 0 {
		c := stack[0]
		stack = append(stack[1:], c.Commands()...)
		if c.Name() == "help" {
			continue
		}
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
	}
}
