package verb

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
)

// Arg is the one positional argument of a verb on a resource.
type Arg struct {
	// What names the argument in usage errors ("stack NAME or ID").
	What string
	// Complete completes it; nil completes nothing.
	Complete cobra.CompletionFunc
}

// Setup tells a verb's RunE how to fill its options O before it calls the run function.
type Setup[O any] struct {
	Opts *O
	// Format, when set, is validated before anything else, and -o is registered.
	Format *output.Format
	// Ref receives the argument as given; ID receives it parsed as an id (anything else is a
	// usage error). A verb without an argument sets neither.
	Ref *string
	ID  *uuid.UUID
	// Check does the verb's own flag checks and parsing, once the argument is stored.
	Check func(cmd *cobra.Command) error
	// RunF replaces Run in tests (the runF of NewCmdX(f, runF)).
	RunF func(*O) error
	Run  func(context.Context, *O) error
}

// OneArg completes cmd as a verb on the one resource its argument names: it sets Args,
// ValidArgsFunction and RunE, which fills the options as s says and calls the run function.
func OneArg[O any](cmd *cobra.Command, arg Arg, s Setup[O]) *cobra.Command {
	cmd.Args = cmdutil.ExactArgs(1, arg.What)
	if arg.Complete != nil {
		cmd.ValidArgsFunction = complete.OnlyFirstArg(arg.Complete)
	}
	return bind(cmd, s, func(args []string) error {
		switch {
		case s.ID != nil:
			id, err := cmdutil.ParseUUID(arg.What, args[0])
			if err != nil {
				return err
			}
			*s.ID = id
		case s.Ref != nil:
			*s.Ref = args[0]
		}
		return nil
	})
}

// NoArg completes cmd as a verb without positional arguments, as OneArg does.
func NoArg[O any](cmd *cobra.Command, s Setup[O]) *cobra.Command {
	cmd.Args = cmdutil.NoArgs
	return bind(cmd, s, func([]string) error { return nil })
}

// Create completes cmd as a verb creating a named resource: the name is its one optional
// argument or --name (registered here with usage), stored in *name. Naming it both ways with
// different values is a usage error; naming it neither leaves *name empty for s.Check to
// refuse. The argument completes nothing: it names what does not exist yet.
func Create[O any](cmd *cobra.Command, name *string, usage string, s Setup[O]) *cobra.Command {
	cmd.Args = cmdutil.MaxArgs(1, "one NAME")
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	cmd.Flags().StringVar(name, "name", "", usage)
	return bind(cmd, s, func(args []string) error {
		if len(args) == 0 {
			return nil
		}
		if cmd.Flags().Changed("name") && *name != args[0] {
			return cmdutil.FlagErrorf("the name is given twice: %q and --name %q", args[0], *name)
		}
		*name = args[0]
		return nil
	})
}

func bind[O any](cmd *cobra.Command, s Setup[O], store func(args []string) error) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if s.Format != nil {
			if err := s.Format.Validate(); err != nil {
				return err
			}
		}
		if err := store(args); err != nil {
			return err
		}
		if s.Check != nil {
			if err := s.Check(cmd); err != nil {
				return err
			}
		}
		return cmdutil.Run(cmd, s.Opts, s.RunF, s.Run)
	}
	if s.Format != nil {
		output.AddFormatFlag(cmd, s.Format)
	}
	return cmd
}
