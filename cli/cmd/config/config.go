// Package config implements "brokkrctl config": listing, selecting and viewing contexts.
package config

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	cfg "github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
)

// NewCmdConfig returns the config noun.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Manage configuration contexts",
		Long: `Manage the contexts of the configuration file ($BROKKR_CONFIG, else
$XDG_CONFIG_HOME/brokkr/config.yaml, else ~/.config/brokkr/config.yaml).`,
		Example: `  brokkrctl config get-contexts
  brokkrctl config use-context prod`,
	}
	cmd.AddCommand(NewCmdGetContexts(f, nil), NewCmdUseContext(f, nil), NewCmdCurrentContext(f, nil), NewCmdView(f, nil))
	return cmd
}

// contextRow is a context as listed by get-contexts.
type contextRow struct {
	Current   bool   `json:"current"`
	Name      string `json:"name"`
	BrokerURL string `json:"broker_url"`
	Auth      string `json:"auth"`
}

var contextSpec = output.Spec[contextRow]{
	Kind: "context",
	Name: func(r contextRow) string { return r.Name },
	Columns: []output.Column[contextRow]{
		output.Text("CURRENT", func(r contextRow) string {
			if r.Current {
				return "*"
			}
			return ""
		}),
		output.Text("NAME", func(r contextRow) string { return r.Name }),
		output.Text("BROKER URL", func(r contextRow) string { return r.BrokerURL }),
		output.Text("AUTH", func(r contextRow) string { return r.Auth }),
	},
}

// GetContextsOptions are the inputs of get-contexts.
type GetContextsOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdGetContexts lists the contexts; runF replaces the run function in tests.
func NewCmdGetContexts(f *cmdutil.Factory, runF func(*GetContextsOptions) error) *cobra.Command {
	opts := &GetContextsOptions{Factory: f}
	return verb.NoArg(&cobra.Command{
		Use:     "get-contexts",
		Short:   "List the configured contexts",
		Example: "  brokkrctl config get-contexts\n  brokkrctl config get-contexts -o json",
	}, verb.Setup[GetContextsOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runGetContexts})
}

func runGetContexts(_ context.Context, opts *GetContextsOptions) error {
	file, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	rows := make([]contextRow, 0, len(file.Contexts))
	for _, c := range file.Contexts {
		auth := "none"
		switch {
		case c.PAK != "":
			auth = "pak"
		case c.PAKCommand != "":
			auth = "pak_command"
		}
		rows = append(rows, contextRow{Current: c.Name == file.CurrentContext, Name: c.Name, BrokerURL: c.BrokerURL, Auth: auth})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return output.PrintList(output.NewPrinter(opts.Factory, opts.Format), contextSpec, rows)
}

// UseContextOptions are the inputs of use-context.
type UseContextOptions struct {
	Factory *cmdutil.Factory
	Name    string
}

// NewCmdUseContext selects the current context; runF replaces the run function in tests.
func NewCmdUseContext(f *cmdutil.Factory, runF func(*UseContextOptions) error) *cobra.Command {
	opts := &UseContextOptions{Factory: f}
	return verb.OneArg(&cobra.Command{
		Use:     "use-context NAME",
		Short:   "Make a context the current one",
		Example: "  brokkrctl config use-context prod",
	}, verb.Arg{What: "context NAME", Complete: complete.Contexts(f)},
		verb.Setup[UseContextOptions]{Opts: opts, Ref: &opts.Name, RunF: runF, Run: runUseContext})
}

func runUseContext(_ context.Context, opts *UseContextOptions) error {
	f := opts.Factory
	file, err := f.Config()
	if err != nil {
		return err
	}
	if _, ok := file.Lookup(opts.Name); !ok {
		return fmt.Errorf("context %q not found", opts.Name)
	}
	file.CurrentContext = opts.Name
	if err := f.SaveConfig(file); err != nil {
		return err
	}
	output.Successf(f.IOStreams, "Switched to context %s", opts.Name)
	return nil
}

// CurrentContextOptions are the inputs of current-context.
type CurrentContextOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdCurrentContext prints the current context's name; runF replaces the run function in
// tests.
func NewCmdCurrentContext(f *cmdutil.Factory, runF func(*CurrentContextOptions) error) *cobra.Command {
	opts := &CurrentContextOptions{Factory: f}
	return verb.NoArg(&cobra.Command{
		Use:     "current-context",
		Short:   "Print the name of the current context",
		Example: "  brokkrctl config current-context",
	}, verb.Setup[CurrentContextOptions]{Opts: opts, RunF: runF, Run: runCurrentContext})
}

func runCurrentContext(_ context.Context, opts *CurrentContextOptions) error {
	f := opts.Factory
	file, err := f.Config()
	if err != nil {
		return err
	}
	name := f.Global.Context
	if name == "" {
		name = f.Getenv(cfg.EnvContext)
	}
	if name == "" {
		name = file.CurrentContext
	}
	if name == "" {
		return fmt.Errorf("no current context")
	}
	fmt.Fprintln(f.IOStreams.Out, name)
	return nil
}

// ViewOptions are the inputs of config view.
type ViewOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdView prints the configuration file with PAKs masked; runF replaces the run function
// in tests.
func NewCmdView(f *cmdutil.Factory, runF func(*ViewOptions) error) *cobra.Command {
	opts := &ViewOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:     "view",
		Short:   "Show the configuration file with PAKs masked",
		Example: "  brokkrctl config view\n  brokkrctl config view -o json",
	}, verb.Setup[ViewOptions]{Opts: opts, RunF: runF, Run: runView,
		Check: func(*cobra.Command) error {
			if !opts.Format.IsWire() {
				return cmdutil.FlagErrorf("invalid output format %q: want yaml or json", opts.Format)
			}
			return nil
		}})
	cmd.Flags().StringVarP((*string)(&opts.Format), "output", "o", string(output.FormatYAML), "Output format: yaml or json")
	return cmd
}

func runView(_ context.Context, opts *ViewOptions) error {
	file, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	masked := cfg.File{CurrentContext: file.CurrentContext, Contexts: make([]cfg.Context, len(file.Contexts))}
	for i, c := range file.Contexts {
		c.PAK = cfg.MaskPAK(c.PAK)
		masked.Contexts[i] = c
	}
	_, err = output.WriteWire(opts.Factory.IOStreams.Out, opts.Format, masked)
	return err
}
