package verb

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// RefOptions are the inputs of a verb that prints the one resource its argument names.
type RefOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// IDOptions are the inputs of a verb that prints the one resource whose id is its argument.
type IDOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Format  output.Format
}

// FormatOptions are the inputs of a verb without arguments that takes only -o.
type FormatOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// RenameOptions are the inputs of a verb that renames the resource its argument names or
// changes its description; each pointer is set only when its flag is given.
type RenameOptions struct {
	Factory     *cmdutil.Factory
	Ref         string
	Name        *string
	Description *string
	Format      output.Format
}

// Apply copies the new name and description, where given, into a resource's fields.
func (o *RenameOptions) Apply(name *string, description **string) {
	if o.Name != nil {
		*name = *o.Name
	}
	if o.Description != nil {
		*description = o.Description
	}
}

// DeleteOptions are the inputs of a verb that deletes the one resource its argument names.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Yes     bool
}

// DeleteIDOptions are the inputs of a verb that deletes the one object whose id is its
// argument.
type DeleteIDOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Yes     bool
}

// One prints an item through spec (output.PrintOne).
func One[T any](spec output.Spec[T]) func(*output.Printer, T) error {
	return func(p *output.Printer, v T) error { return output.PrintOne(p, spec, v) }
}

// Many prints items through spec (output.PrintList).
func Many[T any](spec output.Spec[T]) func(*output.Printer, []T) error {
	return func(p *output.Printer, v []T) error { return output.PrintList(p, spec, v) }
}

// Then resolves a reference with find and passes the result (an id, usually) to call.
func Then[K, T any](find func(context.Context, *client.Client, string) (K, error),
	call func(context.Context, *client.Client, K) (T, error)) func(context.Context, *client.Client, string) (T, error) {
	return func(ctx context.Context, c *client.Client, ref string) (T, error) {
		return Via(find, ref, call)(ctx, c)
	}
}

// show reads with fetch and prints the result with print in the options' format.
func show[T any](ctx context.Context, f *cmdutil.Factory, format output.Format, fetch Fetch[T], print func(*output.Printer, T) error) error {
	v, err := Do(ctx, f, fetch)
	if err != nil {
		return err
	}
	return print(output.NewPrinter(f, format), v)
}

// ShowRefCmd completes cmd as a verb that prints what its argument names ("get NAME"):
// find resolves the argument and reads it, print prints it (One or Many of a spec, or a
// rendering of its own).
func ShowRefCmd[T any](f *cmdutil.Factory, runF func(*RefOptions) error, cmd *cobra.Command, arg Arg,
	find func(context.Context, *client.Client, string) (T, error), print func(*output.Printer, T) error) *cobra.Command {
	opts := &RefOptions{Factory: f}
	return OneArg(cmd, arg, Setup[RefOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF,
		Run: func(ctx context.Context, opts *RefOptions) error {
			return show(ctx, opts.Factory, opts.Format, Ref(find, opts.Ref), print)
		}})
}

// ShowIDCmd completes cmd as a verb that prints the object whose id is its argument
// ("get ID"): get reads it, print prints it.
func ShowIDCmd[T any](f *cmdutil.Factory, runF func(*IDOptions) error, cmd *cobra.Command, arg Arg,
	get func(context.Context, *client.Client, uuid.UUID) (T, error), print func(*output.Printer, T) error) *cobra.Command {
	opts := &IDOptions{Factory: f}
	return OneArg(cmd, arg, Setup[IDOptions]{Opts: opts, Format: &opts.Format, ID: &opts.ID, RunF: runF,
		Run: func(ctx context.Context, opts *IDOptions) error {
			return show(ctx, opts.Factory, opts.Format, func(ctx context.Context, c *client.Client) (T, error) {
				return get(ctx, c, opts.ID)
			}, print)
		}})
}

// ShowCmd completes cmd as a verb without arguments that prints what fetch reads ("list").
func ShowCmd[T any](f *cmdutil.Factory, runF func(*FormatOptions) error, cmd *cobra.Command,
	fetch Fetch[T], print func(*output.Printer, T) error) *cobra.Command {
	opts := &FormatOptions{Factory: f}
	return NoArg(cmd, Setup[FormatOptions]{Opts: opts, Format: &opts.Format, RunF: runF,
		Run: func(ctx context.Context, opts *FormatOptions) error {
			return show(ctx, opts.Factory, opts.Format, fetch, print)
		}})
}

// DeleteCmd completes cmd as "delete NAME" with -y/--yes: find resolves the argument and d
// deletes it (see Delete); without a terminal --yes is required.
func DeleteCmd[T any](f *cmdutil.Factory, runF func(*DeleteOptions) error, cmd *cobra.Command, arg Arg,
	find func(context.Context, *client.Client, string) (T, error), d Deletion[T]) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	OneArg(cmd, arg, Setup[DeleteOptions]{Opts: opts, Ref: &opts.Ref, RunF: runF,
		Check: func(*cobra.Command) error { return cmdutil.CheckConfirmable(f, opts.Yes) },
		Run: func(ctx context.Context, opts *DeleteOptions) error {
			d.Find = Ref(find, opts.Ref)
			return Delete(ctx, opts.Factory, opts.Yes, d)
		}})
	cmdutil.AddYesFlag(cmd, &opts.Yes)
	return cmd
}

// RenameCmd completes cmd as "update NAME [--name NAME] [--description TEXT]", which needs at
// least one of the flags; run does the update.
func RenameCmd(f *cmdutil.Factory, runF func(*RenameOptions) error, cmd *cobra.Command, arg Arg,
	run func(context.Context, *RenameOptions) error) *cobra.Command {
	opts := &RenameOptions{Factory: f}
	OneArg(cmd, arg, Setup[RenameOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: run,
		Check: func(*cobra.Command) error {
			if opts.Name == nil && opts.Description == nil {
				return cmdutil.FlagErrorf("nothing to change: give --name or --description")
			}
			return nil
		}})
	cmdutil.OptionalStringVar(cmd.Flags(), &opts.Name, "name", "New name")
	cmdutil.OptionalStringVar(cmd.Flags(), &opts.Description, "description", "New description")
	return cmd
}

// DeleteByIDCmd completes cmd as "delete ID" with -y/--yes: after confirmation del deletes the
// object, which needs no lookup; what names it in the question and the report ("work order").
func DeleteByIDCmd(f *cmdutil.Factory, runF func(*DeleteIDOptions) error, cmd *cobra.Command, arg Arg, what string,
	del func(context.Context, *client.Client, uuid.UUID) error) *cobra.Command {
	opts := &DeleteIDOptions{Factory: f}
	OneArg(cmd, arg, Setup[DeleteIDOptions]{Opts: opts, ID: &opts.ID, RunF: runF,
		Check: func(*cobra.Command) error { return cmdutil.CheckConfirmable(f, opts.Yes) },
		Run: func(ctx context.Context, opts *DeleteIDOptions) error {
			id := opts.ID.String()
			return deleteKnown(ctx, opts.Factory, opts.Yes, "Delete "+what+" "+id+"?",
				func(ctx context.Context, c *client.Client) error { return del(ctx, c, opts.ID) }, "Deleted "+what+" "+id)
		}})
	cmdutil.AddYesFlag(cmd, &opts.Yes)
	return cmd
}
