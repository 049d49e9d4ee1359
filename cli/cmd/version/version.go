// Package version implements "brokkrctl version".
package version

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/buildinfo"
)

// Options are the inputs of the version command.
type Options struct {
	IO        *iostreams.IOStreams
	Resolve   func(ctx context.Context) (config.Resolved, error)
	NewClient func(config.Resolved) (*client.Client, error)
	Check     bool
	Format    output.Format
}

// Report is what -o json|yaml prints.
type Report struct {
	Client buildinfo.Info `json:"client"`
	Broker *BrokerCheck   `json:"broker,omitempty"`
}

// BrokerCheck is the outcome of --check.
type BrokerCheck struct {
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	Status    int    `json:"status,omitempty"`
	LatencyMs int64  `json:"latency_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}

// NewCmdVersion returns the version command; runF replaces the run function in tests.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Resolve: f.Resolve, NewClient: f.NewClient}
	cmd := verb.NoArg(&cobra.Command{
		Use:   "version",
		Short: "Print the version of brokkrctl",
		Long: `Print the version of brokkrctl. The broker has no version endpoint; with --check the
command also reports the broker URL in use and whether its /healthz answers.`,
		Example: `  brokkrctl version
  brokkrctl version --check
  brokkrctl version -o json`,
	}, verb.Setup[Options]{Opts: opts, Format: &opts.Format, RunF: runF, Run: run})
	cmd.Flags().BoolVar(&opts.Check, "check", false, "Also check that the configured broker is reachable")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	rep := Report{Client: buildinfo.Get()}
	if opts.Check {
		r, err := opts.Resolve(ctx)
		if err != nil {
			return fmt.Errorf("version --check: %w", err)
		}
		chk := check(ctx, opts.NewClient, r)
		rep.Broker = &chk
	}
	ok, err := output.WriteWire(opts.IO.Out, opts.Format, rep)
	switch {
	case err != nil:
		return err
	case !ok:
		fmt.Fprintf(opts.IO.Out, "brokkrctl %s\n", rep.Client)
		if b := rep.Broker; b != nil {
			if b.Reachable {
				fmt.Fprintf(opts.IO.Out, "broker %s reachable (healthz %d in %d ms)\n", b.URL, b.Status, b.LatencyMs)
			} else {
				fmt.Fprintf(opts.IO.Out, "broker %s unreachable: %s\n", b.URL, b.Error)
			}
		}
	}
	if rep.Broker != nil && !rep.Broker.Reachable {
		return cmdutil.ErrSilent
	}
	return nil
}

// check asks the broker's liveness endpoint, outside the API and without a PAK.
func check(ctx context.Context, newClient func(config.Resolved) (*client.Client, error), r config.Resolved) BrokerCheck {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimRight(r.BrokerURL, "/"), "/api/v1"), "/")
	res := BrokerCheck{URL: base}
	r.PAK = ""
	c, err := newClient(r)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	status, err := c.Healthz(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Status, res.LatencyMs = status, time.Since(start).Milliseconds()
	res.Reachable = status == http.StatusOK
	if !res.Reachable {
		res.Error = "healthz answered " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	return res
}
