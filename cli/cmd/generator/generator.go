// Package generator implements "brokkrctl generator": the CI and automation identities that
// own stacks and templates, their PAKs and the agents registered with them.
package generator

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// NewCmdGenerator returns the generator noun.
func NewCmdGenerator(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "generator <command>",
		Aliases: []string{"generators", "gen"},
		Short:   "Manage generators",
		Long: `Manage generators: the identities (CI pipelines, automation) that own stacks and
templates. Each generator has its own PAK; agents registered with a generator accept its
label and annotation targeting.`,
		Example: `  brokkrctl generator create --name ci --description "main pipeline" -o json
  brokkrctl generator register ci --agent edge-1/prod
  brokkrctl generator registered-agents ci`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdRotatePAK(f, nil), NewCmdRegister(f, nil, true), NewCmdRegister(f, nil, false),
		NewCmdRegisteredAgents(f, nil))
	return cmd
}

// Spec is the table of generators.
var Spec = output.Spec[client.Generator]{
	Kind: "generator",
	Name: func(g client.Generator) string { return g.Name },
	Columns: []output.Column[client.Generator]{
		output.Text("ID", func(g client.Generator) string { return g.ID.String() }),
		output.Text("NAME", func(g client.Generator) string { return g.Name }),
		output.Text("ACTIVE", func(g client.Generator) string { return yesNo(g.IsActive) }),
		output.Age("LAST ACTIVE", func(g client.Generator) *time.Time { return g.LastActiveAt }),
		output.Age("AGE", func(g client.Generator) *time.Time { return &g.CreatedAt }),
		output.WideOnly(output.Text("DESCRIPTION", func(g client.Generator) string { return resource.OrDash(g.Description) })),
	},
}

// RegistrationSpec is the table of agent registrations.
var RegistrationSpec = output.Spec[client.AgentGeneratorRegistration]{
	Kind:   "registration",
	Plural: "registrations",
	Name:   func(r client.AgentGeneratorRegistration) string { return r.AgentID.String() },
	Columns: []output.Column[client.AgentGeneratorRegistration]{
		output.Text("AGENT", func(r client.AgentGeneratorRegistration) string { return r.AgentID.String() }),
		output.Text("GENERATOR", func(r client.AgentGeneratorRegistration) string { return r.GeneratorID.String() }),
		output.Age("REGISTERED", func(r client.AgentGeneratorRegistration) *time.Time { return &r.RegisteredAt }),
	},
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// PrintPAK prints a newly issued PAK: with -o json or yaml the whole response goes to stdout
// (scripts take the pak field from it); otherwise the PAK alone goes to stdout, so that
// "$(brokkrctl generator create ...)" captures it, and a warning that it is shown only once
// goes to stderr.
func PrintPAK(f *cmdutil.Factory, format output.Format, what, pak string, response any) error {
	ios := f.IOStreams
	switch format {
	case output.FormatJSON:
		return output.WriteJSON(ios.Out, response)
	case output.FormatYAML:
		return output.WriteYAML(ios.Out, response)
	}
	cs := ios.ColorScheme()
	fmt.Fprintf(ios.ErrOut, "%s The PAK of %s is shown only this once; store it now:\n", cs.WarningIcon(), what)
	_, err := io.WriteString(ios.Out, pak+"\n")
	return err
}

// ListOptions are the inputs of generator list.
type ListOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdList returns generator list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List generators",
		Example: "  brokkrctl generator list\n  brokkrctl generator list -o wide",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			gens, err := c.Generators().List(cmd.Context())
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), Spec, gens)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// GetOptions are the inputs of generator get.
type GetOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdGet returns generator get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "get NAME|ID",
		Short:             "Show a generator",
		Example:           "  brokkrctl generator get ci -o yaml",
		Args:              cmdutil.ExactArgs(1, "generator NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteGenerators(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			g, err := resource.Generator(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, g)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// CreateOptions are the inputs of generator create.
type CreateOptions struct {
	Factory     *cmdutil.Factory
	Name        string
	Description string
	Format      output.Format
	Request     client.CreateGeneratorRequest
}

// NewCmdCreate returns generator create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a generator and print its PAK",
		Long: `Create a generator. Its PAK is printed once: alone on stdout (with a warning on stderr),
or as the pak field of the response with -o json or -o yaml.`,
		Example: `  brokkrctl generator create --name ci
  PAK=$(brokkrctl generator create --name ci -o json | jq -r .pak)`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Name == "" {
				return cmdutil.FlagErrorf("--name is required")
			}
			opts.Request = client.CreateGeneratorRequest{Name: opts.Name}
			if cmd.Flags().Changed("description") {
				opts.Request.Description = &opts.Description
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			res, err := c.Generators().Create(cmd.Context(), opts.Request)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Created generator %s (%s)", res.Generator.Name, res.Generator.ID)
			return PrintPAK(f, opts.Format, "generator "+res.Generator.Name, res.PAK, res)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "Name of the generator (required)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// UpdateOptions are the inputs of generator update.
type UpdateOptions struct {
	Factory     *cmdutil.Factory
	Ref         string
	Name        *string
	Description *string
	Format      output.Format
}

// NewCmdUpdate returns generator update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	var name, desc string
	cmd := &cobra.Command{
		Use:               "update NAME|ID [--name NAME] [--description TEXT]",
		Short:             "Rename a generator or change its description",
		Example:           `  brokkrctl generator update ci --description "release pipeline"`,
		Args:              cmdutil.ExactArgs(1, "generator NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteGenerators(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if cmd.Flags().Changed("name") {
				opts.Name = &name
			}
			if cmd.Flags().Changed("description") {
				opts.Description = &desc
			}
			if opts.Name == nil && opts.Description == nil {
				return cmdutil.FlagErrorf("nothing to change: give --name or --description")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			g, err := resource.Generator(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if opts.Name != nil {
				g.Name = *opts.Name
			}
			if opts.Description != nil {
				g.Description = opts.Description
			}
			g, err = c.Generators().Update(cmd.Context(), g)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Updated generator %s", g.Name)
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, g)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "New name")
	cmd.Flags().StringVar(&desc, "description", "", "New description")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// DeleteOptions are the inputs of generator delete.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Yes     bool
}

// NewCmdDelete returns generator delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a generator with its stacks and templates",
		Long: `Delete a generator together with its stacks and templates. On a terminal the command asks
for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example:           "  brokkrctl generator delete ci --yes",
		Aliases:           []string{"rm"},
		Args:              cmdutil.ExactArgs(1, "generator NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteGenerators(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required when not running interactively")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			g, err := resource.Generator(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if err := cmdutil.ConfirmDestructive(f, opts.Yes, fmt.Sprintf("Delete generator %s with all its stacks and templates?", g.Name)); err != nil {
				return err
			}
			if err := c.Generators().Delete(cmd.Context(), g.ID); err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Deleted generator %s", g.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Delete without asking for confirmation")
	return cmd
}

// RotateOptions are the inputs of generator rotate-pak.
type RotateOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdRotatePAK returns generator rotate-pak; runF replaces the run function in tests.
func NewCmdRotatePAK(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "rotate-pak NAME|ID",
		Short: "Replace a generator's PAK",
		Long: `Replace a generator's PAK and print the new one once; the old key stops working at once.
Output as for generator create.`,
		Example:           "  brokkrctl generator rotate-pak ci -o json",
		Args:              cmdutil.ExactArgs(1, "generator NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteGenerators(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.GeneratorID(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			res, err := c.Generators().RotatePAK(cmd.Context(), id)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Rotated the PAK of generator %s", res.Generator.Name)
			return PrintPAK(f, opts.Format, "generator "+res.Generator.Name, res.PAK, res)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// RegisterOptions are the inputs of generator register and deregister.
type RegisterOptions struct {
	Factory  *cmdutil.Factory
	Ref      string
	Agent    string
	Register bool
	Format   output.Format
}

// NewCmdRegister returns generator register (register true) or generator deregister; runF
// replaces the run function in tests.
func NewCmdRegister(f *cmdutil.Factory, runF func(*RegisterOptions) error, register bool) *cobra.Command {
	opts := &RegisterOptions{Factory: f, Register: register}
	cmd := &cobra.Command{
		Use:   "register NAME|ID --agent AGENT",
		Short: "Let a generator target an agent by label and annotation",
		Long: `Register an agent with a generator: the agent then accepts the generator's label and
annotation targeting, and the generator may target it explicitly. With an agent PAK, --agent
may be omitted: the calling agent registers itself.`,
		Example:           "  brokkrctl generator register ci --agent edge-1/prod",
		Args:              cmdutil.ExactArgs(1, "generator NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteGenerators(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runRegister(cmd.Context(), opts)
		},
	}
	if !register {
		cmd.Use = "deregister NAME|ID --agent AGENT"
		cmd.Short = "Remove an agent's registration with a generator"
		cmd.Long = `Remove an agent's registration with a generator, together with the agent's targets on the
generator's stacks. A missing registration is not an error.`
		cmd.Example = "  brokkrctl generator deregister ci --agent 5b0e6f9e-0b6d-4f3c-8a55-1d2f3a4b5c6d"
	}
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "Agent id or NAME/CLUSTER (omit with an agent PAK)")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("agent", resource.CompleteAgents(f))
	return cmd
}

func runRegister(ctx context.Context, opts *RegisterOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	genID, err := resource.GeneratorID(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	var agentID *uuid.UUID
	if opts.Agent != "" {
		id, err := resource.AgentID(ctx, c, opts.Agent)
		if err != nil {
			return err
		}
		agentID = &id
	}
	if !opts.Register {
		if err := c.Generators().Deregister(ctx, genID, agentID); err != nil {
			return err
		}
		output.Successf(f.IOStreams, "Deregistered agent %s from generator %s", opts.Agent, opts.Ref)
		return nil
	}
	reg, err := c.Generators().Register(ctx, genID, agentID)
	if client.HasCode(err, "already_registered") {
		output.Successf(f.IOStreams, "Agent %s is already registered with generator %s", opts.Agent, opts.Ref)
		return nil
	}
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "Registered agent %s with generator %s", reg.AgentID, opts.Ref)
	return output.PrintOne(output.NewPrinter(f, opts.Format), RegistrationSpec, reg)
}

// RegisteredOptions are the inputs of generator registered-agents.
type RegisteredOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdRegisteredAgents returns generator registered-agents; runF replaces the run function
// in tests.
func NewCmdRegisteredAgents(f *cmdutil.Factory, runF func(*RegisteredOptions) error) *cobra.Command {
	opts := &RegisteredOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "registered-agents NAME|ID",
		Short:             "List the agents registered with a generator",
		Example:           "  brokkrctl generator registered-agents ci",
		Args:              cmdutil.ExactArgs(1, "generator NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteGenerators(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.GeneratorID(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			regs, err := c.Generators().RegisteredAgents(cmd.Context(), id)
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), RegistrationSpec, regs)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}
