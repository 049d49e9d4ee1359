package admin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// RotatePAKOptions are the inputs of admin rotate-pak.
type RotatePAKOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
	// Save writes the new key into the context in use.
	Save bool
}

// NewCmdRotatePAK returns admin rotate-pak; runF replaces the run function in tests.
func NewCmdRotatePAK(f *cmdutil.Factory, runF func(*RotatePAKOptions) error) *cobra.Command {
	opts := &RotatePAKOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:   "rotate-pak",
		Short: "Replace the admin PAK",
		Long: `Replace the admin PAK and print the new one once; the old key stops working at once on
every broker replica, and the connections opened with it are closed. With --save the new key
replaces the PAK of the context in use in the configuration file (a context whose key comes
from pak_command cannot be saved into: update what that command reads instead).

A broker that configures broker.pak_hash brings the old key back at its next start: the
command then prints a warning with the hash to configure.`,
		Example: "  brokkrctl admin rotate-pak --save\n  brokkrctl admin rotate-pak -o json",
	}, verb.Setup[RotatePAKOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runRotatePAK})
	cmd.Flags().BoolVar(&opts.Save, "save", false, "Save the new PAK in the context in use")
	return cmd
}

func runRotatePAK(ctx context.Context, opts *RotatePAKOptions) error {
	f := opts.Factory
	var (
		file *config.File
		name string
	)
	if opts.Save { // checked before the key changes
		var err error
		if file, name, err = saveTarget(f); err != nil {
			return err
		}
	}
	res, err := verb.Do(ctx, f, func(ctx context.Context, c *client.Client) (client.AdminPAKResponse, error) {
		return c.Admin().RotatePAK(ctx)
	})
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "Rotated the admin PAK; the old key no longer works")
	if res.Warning != "" {
		fmt.Fprintf(f.IOStreams.ErrOut, "%s %s\n", f.IOStreams.ColorScheme().WarningIcon(), res.Warning)
	}
	if err := output.PrintPAK(f.IOStreams, opts.Format, "the admin", res.PAK, res); err != nil {
		return err
	}
	if file == nil {
		return nil
	}
	c, _ := file.Lookup(name)
	c.PAK = res.PAK
	if err := f.SaveConfig(file); err != nil {
		return fmt.Errorf("the admin PAK was rotated (the new key is printed above) but not saved: %w", err)
	}
	output.Successf(f.IOStreams, "Saved the new admin PAK in context %s", name)
	if f.Global.PAK != "" || f.Getenv(config.EnvPAK) != "" {
		fmt.Fprintf(f.IOStreams.ErrOut, "%s --pak or %s still names the old key\n", f.IOStreams.ColorScheme().WarningIcon(), config.EnvPAK)
	}
	return nil
}

// saveTarget returns the configuration file and the name of the context --save writes to:
// the one named by --context or $BROKKR_CONTEXT, else the current one.
func saveTarget(f *cmdutil.Factory) (*config.File, string, error) {
	file, err := f.Config()
	if err != nil {
		return nil, "", err
	}
	name := f.Global.Context
	if name == "" {
		name = f.Getenv(config.EnvContext)
	}
	if name == "" {
		name = file.CurrentContext
	}
	if name == "" {
		return nil, "", cmdutil.FlagErrorf("--save needs a context to save into: run brokkrctl login first")
	}
	c, ok := file.Lookup(name)
	switch {
	case !ok:
		return nil, "", fmt.Errorf("context %q not found in the configuration file", name)
	case c.PAKCommand != "":
		return nil, "", cmdutil.FlagErrorf("context %s takes its PAK from pak_command; --save cannot replace it", name)
	}
	return file, name, nil
}
