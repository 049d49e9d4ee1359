// Package generator implements "brokkrctl generator": the CI and automation identities that
// own stacks and templates, their PAKs and the agents registered with them.
package generator

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
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
		Example: `  brokkrctl generator create ci --description "main pipeline" -o json
  brokkrctl generator register ci --agent edge-1/prod
  brokkrctl generator registered-agents ci`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdRotatePAK(f, nil), NewCmdRegister(f, nil, true), NewCmdRegister(f, nil, false),
		NewCmdRegisteredAgents(f, nil))
	return cmd
}

// generatorArg is the generator argument of the verbs on one generator.
func generatorArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "generator NAME or ID", Complete: complete.Generators(f)}
}

// ListOptions are the inputs of generator list.
type ListOptions = verb.FormatOptions

// NewCmdList returns generator list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	return verb.ShowCmd(f, runF, &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List generators",
		Example: "  brokkrctl generator list\n  brokkrctl generator list -o wide",
	}, func(ctx context.Context, c *client.Client) ([]client.Generator, error) {
		return c.Generators().List(ctx)
	}, verb.Many(specs.Generator))
}

// GetOptions are the inputs of generator get.
type GetOptions = verb.RefOptions

// NewCmdGet returns generator get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "get NAME|ID",
		Short:   "Show a generator",
		Example: "  brokkrctl generator get ci -o yaml",
	}, generatorArg(f), resolve.Generator, verb.One(specs.Generator))
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
	cmd := verb.Create(&cobra.Command{
		Use:   "create NAME [flags]",
		Short: "Create a generator and print its PAK",
		Long: `Create a generator named NAME (or --name). Its PAK is printed once: alone on stdout (with a
warning on stderr), or as the pak field of the response with -o json or -o yaml.`,
		Example: `  brokkrctl generator create ci
  brokkrctl generator create ci --description "main pipeline"
  PAK=$(brokkrctl generator create ci -o json | jq -r .pak)`,
	}, &opts.Name, "Name of the generator (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(cmd *cobra.Command) error {
			if opts.Name == "" {
				return cmdutil.FlagErrorf("--name is required")
			}
			opts.Request = client.CreateGeneratorRequest{Name: opts.Name}
			if cmd.Flags().Changed("description") {
				opts.Request.Description = &opts.Description
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	return cmd
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.GeneratorPAKResponse, error) {
		return c.Generators().Create(ctx, opts.Request)
	}
	return verb.IssuePAK(ctx, opts.Factory, opts.Format, create, func(res client.GeneratorPAKResponse) verb.Issue {
		g := res.Generator
		return verb.Issue{Message: fmt.Sprintf("Created generator %s (%s)", g.Name, g.ID), Holder: "generator " + g.Name, PAK: res.PAK}
	})
}

// UpdateOptions are the inputs of generator update.
type UpdateOptions = verb.RenameOptions

// NewCmdUpdate returns generator update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	return verb.RenameCmd(f, runF, &cobra.Command{
		Use:     "update NAME|ID [--name NAME] [--description TEXT]",
		Short:   "Rename a generator or change its description",
		Example: `  brokkrctl generator update ci --description "release pipeline"`,
	}, generatorArg(f), runUpdate)
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	update := verb.Via(resolve.Generator, opts.Ref, func(ctx context.Context, c *client.Client, v client.Generator) (client.Generator, error) {
		opts.Apply(&v.Name, &v.Description)
		return c.Generators().Update(ctx, v)
	})
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Generator, update, func(v client.Generator) string {
		return "Updated generator " + v.Name
	})
}

// DeleteOptions are the inputs of generator delete.
type DeleteOptions = verb.DeleteOptions

// NewCmdDelete returns generator delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a generator with its stacks and templates",
		Long: `Delete a generator together with its stacks and templates. On a terminal the command asks
for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example: "  brokkrctl generator delete ci --yes",
		Aliases: []string{"rm"},
	}, generatorArg(f), resolve.Generator, verb.Deletion[client.Generator]{
		Question: func(g client.Generator) string {
			return fmt.Sprintf("Delete generator %s with all its stacks and templates?", g.Name)
		},
		Delete: func(ctx context.Context, c *client.Client, g client.Generator) error {
			return c.Generators().Delete(ctx, g.ID)
		},
		Done: func(g client.Generator) string { return "Deleted generator " + g.Name },
	})
}

// RotateOptions are the inputs of generator rotate-pak.
type RotateOptions = verb.RefOptions

// NewCmdRotatePAK returns generator rotate-pak; runF replaces the run function in tests.
func NewCmdRotatePAK(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{Factory: f}
	return verb.OneArg(&cobra.Command{
		Use:   "rotate-pak NAME|ID",
		Short: "Replace a generator's PAK",
		Long: `Replace a generator's PAK and print the new one once; the old key stops working at once.
Output as for generator create.`,
		Example: "  brokkrctl generator rotate-pak ci -o json",
	}, generatorArg(f), verb.Setup[RotateOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runRotatePAK})
}

func runRotatePAK(ctx context.Context, opts *RotateOptions) error {
	rotate := verb.Via(resolve.GeneratorID, opts.Ref, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.GeneratorPAKResponse, error) {
		return c.Generators().RotatePAK(ctx, id)
	})
	return verb.IssuePAK(ctx, opts.Factory, opts.Format, rotate, func(res client.GeneratorPAKResponse) verb.Issue {
		return verb.Issue{Message: "Rotated the PAK of generator " + res.Generator.Name, Holder: "generator " + res.Generator.Name, PAK: res.PAK}
	})
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
	cmd := verb.OneArg(&cobra.Command{
		Use:   "register NAME|ID --agent AGENT",
		Short: "Let a generator target an agent by label and annotation",
		Long: `Register an agent with a generator: the agent then accepts the generator's label and
annotation targeting, and the generator may target it explicitly. With an agent PAK, --agent
may be omitted: the calling agent registers itself.`,
		Example: "  brokkrctl generator register ci --agent edge-1/prod",
	}, generatorArg(f), verb.Setup[RegisterOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runRegister})
	if !register {
		cmd.Use = "deregister NAME|ID --agent AGENT"
		cmd.Short = "Remove an agent's registration with a generator"
		cmd.Long = `Remove an agent's registration with a generator, together with the agent's targets on the
generator's stacks. A missing registration is not an error.`
		cmd.Example = "  brokkrctl generator deregister ci --agent 5b0e6f9e-0b6d-4f3c-8a55-1d2f3a4b5c6d"
	}
	cmd.Flags().StringVar(&opts.Agent, "agent", "", "Agent id or NAME/CLUSTER (omit with an agent PAK)")
	_ = cmd.RegisterFlagCompletionFunc("agent", complete.Agents(f))
	return cmd
}

func runRegister(ctx context.Context, opts *RegisterOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	genID, err := resolve.GeneratorID(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	var agentID *uuid.UUID
	if opts.Agent != "" {
		id, err := resolve.AgentID(ctx, c, opts.Agent)
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
	return output.PrintOne(output.NewPrinter(f, opts.Format), specs.Registration, reg)
}

// RegisteredOptions are the inputs of generator registered-agents.
type RegisteredOptions = verb.RefOptions

// NewCmdRegisteredAgents returns generator registered-agents; runF replaces the run function
// in tests.
func NewCmdRegisteredAgents(f *cmdutil.Factory, runF func(*RegisteredOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "registered-agents NAME|ID",
		Short:   "List the agents registered with a generator",
		Example: "  brokkrctl generator registered-agents ci",
	}, generatorArg(f), verb.Then(resolve.GeneratorID, func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.AgentGeneratorRegistration, error) {
		return c.Generators().RegisteredAgents(ctx, id)
	}), verb.Many(specs.Registration))
}
