// Package config implements "brokkrctl config": listing, selecting and viewing contexts.
package config

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	cfg "github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/output"
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
	cmd.AddCommand(NewCmdGetContexts(f, nil), NewCmdUseContext(f, nil), NewCmdCurrentContext(f), NewCmdView(f, nil))
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
	cmd := &cobra.Command{
		Use:     "get-contexts",
		Short:   "List the configured contexts",
		Example: "  brokkrctl config get-contexts\n  brokkrctl config get-contexts -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			file, err := f.Config()
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
			return output.PrintList(output.NewPrinter(f, opts.Format), contextSpec, rows)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// UseContextOptions are the inputs of use-context.
type UseContextOptions struct {
	Factory *cmdutil.Factory
	Name    string
}

// NewCmdUseContext selects the current context; runF replaces the run function in tests.
func NewCmdUseContext(f *cmdutil.Factory, runF func(*UseContextOptions) error) *cobra.Command {
	opts := &UseContextOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "use-context NAME",
		Short:             "Make a context the current one",
		Example:           "  brokkrctl config use-context prod",
		Args:              cmdutil.ExactArgs(1, "context NAME"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(CompleteContexts(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
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
		},
	}
	return cmd
}

// NewCmdCurrentContext prints the current context's name.
func NewCmdCurrentContext(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "current-context",
		Short:   "Print the name of the current context",
		Example: "  brokkrctl config current-context",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
		},
	}
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
	cmd := &cobra.Command{
		Use:     "view",
		Short:   "Show the configuration file with PAKs masked",
		Example: "  brokkrctl config view\n  brokkrctl config view -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Format != output.FormatJSON && opts.Format != output.FormatYAML {
				return cmdutil.FlagErrorf("invalid output format %q: want yaml or json", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			file, err := f.Config()
			if err != nil {
				return err
			}
			masked := cfg.File{CurrentContext: file.CurrentContext, Contexts: make([]cfg.Context, len(file.Contexts))}
			for i, c := range file.Contexts {
				c.PAK = cfg.MaskPAK(c.PAK)
				masked.Contexts[i] = c
			}
			if opts.Format == output.FormatJSON {
				return output.WriteJSON(f.IOStreams.Out, masked)
			}
			return output.WriteYAML(f.IOStreams.Out, masked)
		},
	}
	cmd.Flags().StringVarP((*string)(&opts.Format), "output", "o", string(output.FormatYAML), "Output format: yaml or json")
	return cmd
}

// CompleteContexts completes context names from the configuration file.
func CompleteContexts(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		file, err := f.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, c := range file.Contexts {
			out = append(out, cobra.CompletionWithDesc(c.Name, c.BrokerURL))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
