// Command gendocs writes brokkrctl's man pages and Markdown reference from its command tree:
//
//	go run ./hack/gendocs man DIR      # one page per command (make manpages)
//	go run ./hack/gendocs markdown     # docs/cli.md on stdout (make docs)
package main

import (
	"fmt"
	"os"

	"github.com/brokkr/brokkr/cli"
	"github.com/brokkr/brokkr/cli/cmd/gendocs"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/internal/buildinfo"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	root := cli.NewRootCmd(cmdutil.NewFactory(buildinfo.Get().Version, iostreams.System()))
	switch {
	case len(args) == 2 && args[0] == "man":
		return gendocs.Man(root, args[1])
	case len(args) == 1 && args[0] == "markdown":
		return gendocs.Markdown(os.Stdout, root)
	}
	return fmt.Errorf("usage: gendocs man DIR | gendocs markdown")
}
