// Package login implements "brokkrctl login" and "brokkrctl logout".
package login

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// LoginOptions are the inputs of the login command.
type LoginOptions struct {
	IO         *iostreams.IOStreams
	Config     func() (*config.File, error)
	SaveConfig func(*config.File) error
	NewClient  func(config.Resolved) (*client.Client, error)

	BrokerURL          string
	PAK                string
	PAKCommand         string
	WithToken          bool
	ContextName        string
	CAFile             string
	InsecureSkipVerify bool
}

// NewCmdLogin returns the login command; runF replaces the run function in tests.
func NewCmdLogin(f *cmdutil.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, Config: f.Config, SaveConfig: f.SaveConfig, NewClient: f.NewClient}
	cmd := verb.NoArg(&cobra.Command{
		Use:   "login",
		Short: "Verify a PAK against a broker and save it as a context",
		Long: `Verify a PAK with the broker (POST /auth/pak), print whom it identifies (admin, an agent
or a generator), then save broker URL and PAK as a context in the configuration file and
make it the current context.

The PAK comes from --pak, --with-token (read from stdin), --pak-command (a command whose
output is the PAK; the command is saved instead of the key) or $BROKKR_PAK. The context
is named after the broker's host unless --context names it.`,
		Example: `  brokkrctl login --broker-url http://localhost:3000 --pak brokkr_BR...
  pass show brokkr/prod | brokkrctl login --broker-url https://brokkr.example.com --with-token --context prod
  brokkrctl login --broker-url https://brokkr.example.com --pak-command "pass show brokkr/prod"`,
	}, verb.Setup[LoginOptions]{Opts: opts, RunF: runF, Run: runLogin,
		Check: func(*cobra.Command) error {
			opts.BrokerURL = first(f.Global.BrokerURL, f.Getenv(config.EnvBrokerURL))
			opts.PAK = f.Global.PAK
			opts.ContextName = f.Global.Context
			if opts.BrokerURL == "" {
				return cmdutil.FlagErrorf("--broker-url is required (or set %s)", config.EnvBrokerURL)
			}
			n := 0
			for _, set := range []bool{opts.PAK != "", opts.WithToken, opts.PAKCommand != ""} {
				if set {
					n++
				}
			}
			if n > 1 {
				return cmdutil.FlagErrorf("use only one of --pak, --with-token and --pak-command")
			}
			if n == 0 {
				opts.PAK = f.Getenv(config.EnvPAK)
			}
			if opts.WithToken {
				b, err := io.ReadAll(opts.IO.In)
				if err != nil {
					return fmt.Errorf("read PAK from stdin: %w", err)
				}
				opts.PAK = strings.TrimSpace(string(b))
			}
			if opts.PAK == "" && opts.PAKCommand == "" {
				return cmdutil.FlagErrorf("a PAK is required: --pak, --with-token, --pak-command or %s", config.EnvPAK)
			}
			return nil
		}})
	cmd.Flags().BoolVar(&opts.WithToken, "with-token", false, "Read the PAK from standard input")
	cmd.Flags().StringVar(&opts.PAKCommand, "pak-command", "", "Command whose output is the PAK (saved instead of the PAK)")
	cmd.Flags().StringVar(&opts.CAFile, "ca-file", "", "PEM file of CA certificates to trust for this broker")
	cmd.Flags().BoolVar(&opts.InsecureSkipVerify, "insecure-skip-verify", false, "Do not verify the broker's TLS certificate (testing only)")
	return cmd
}

func runLogin(ctx context.Context, opts *LoginOptions) error {
	pak := opts.PAK
	if opts.PAKCommand != "" {
		p, err := config.RunPAKCommand(ctx, opts.PAKCommand)
		if err != nil {
			return err
		}
		pak = p
	}
	c, err := opts.NewClient(config.Resolved{BrokerURL: opts.BrokerURL, PAK: pak, CAFile: opts.CAFile, InsecureSkipVerify: opts.InsecureSkipVerify})
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	who, err := c.Auth().Verify(ctx)
	if err != nil {
		return fmt.Errorf("verify PAK with %s: %w", c.BaseURL(), err)
	}
	name := opts.ContextName
	if name == "" {
		name = defaultContextName(c.BaseURL())
	}
	file, err := opts.Config()
	if err != nil {
		return err
	}
	ctxCfg := config.Context{Name: name, BrokerURL: c.BaseURL(), PAKCommand: opts.PAKCommand, CAFile: opts.CAFile, InsecureSkipVerify: opts.InsecureSkipVerify}
	if opts.PAKCommand == "" {
		ctxCfg.PAK = pak
	}
	file.Upsert(ctxCfg)
	file.CurrentContext = name
	if err := opts.SaveConfig(file); err != nil {
		return err
	}
	output.Successf(opts.IO, "Logged in to %s as %s", c.BaseURL(), Identity(who))
	output.Successf(opts.IO, "Saved context %s and made it current", name)
	return nil
}

// Identity describes the holder of a PAK: "admin", "admin (read-only)", "agent <id>" or
// "generator <id>".
func Identity(a client.AuthResponse) string {
	switch {
	case a.Admin && a.ReadOnly:
		return "admin (read-only)"
	case a.Admin:
		return "admin"
	case a.Agent != nil:
		return "agent " + a.Agent.String()
	case a.Generator != nil:
		return "generator " + a.Generator.String()
	}
	return "unknown identity"
}

func defaultContextName(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "default"
	}
	return u.Host
}

func first(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// LogoutOptions are the inputs of the logout command.
type LogoutOptions struct {
	IO          *iostreams.IOStreams
	Config      func() (*config.File, error)
	SaveConfig  func(*config.File) error
	ContextName string
}

// NewCmdLogout returns the logout command; runF replaces the run function in tests.
func NewCmdLogout(f *cmdutil.Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams, Config: f.Config, SaveConfig: f.SaveConfig}
	return verb.NoArg(&cobra.Command{
		Use:   "logout",
		Short: "Remove a context and its PAK from the configuration file",
		Long:  "Remove the current context (or the one named with --context) from the configuration file.",
		Example: `  brokkrctl logout
  brokkrctl logout --context staging`,
	}, verb.Setup[LogoutOptions]{Opts: opts, RunF: runF, Run: runLogout,
		Check: func(*cobra.Command) error {
			opts.ContextName = first(f.Global.Context, f.Getenv(config.EnvContext))
			return nil
		}})
}

func runLogout(_ context.Context, opts *LogoutOptions) error {
	file, err := opts.Config()
	if err != nil {
		return err
	}
	name := first(opts.ContextName, file.CurrentContext)
	if name == "" {
		return fmt.Errorf("not logged in: no current context")
	}
	if !file.Remove(name) {
		return fmt.Errorf("context %q not found", name)
	}
	if err := opts.SaveConfig(file); err != nil {
		return err
	}
	output.Successf(opts.IO, "Removed context %s", name)
	return nil
}
