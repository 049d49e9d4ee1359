// Package version implements "brokkrctl version".
package version

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/internal/buildinfo"
)

// Options are the inputs of the version command.
type Options struct {
	IO         *iostreams.IOStreams
	Resolve    func(ctx context.Context) (config.Resolved, error)
	HTTPClient *http.Client
	Check      bool
	Format     output.Format
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
	opts := &Options{IO: f.IOStreams, Resolve: f.Resolve, HTTPClient: f.HTTPClient}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of brokkrctl",
		Long: `Print the version of brokkrctl. The broker has no version endpoint; with --check the
command also reports the broker URL in use and whether its /healthz answers.`,
		Example: `  brokkrctl version
  brokkrctl version --check
  brokkrctl version -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "Also check that the configured broker is reachable")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	rep := Report{Client: buildinfo.Get()}
	if opts.Check {
		r, err := opts.Resolve(ctx)
		if err != nil {
			return fmt.Errorf("version --check: %w", err)
		}
		chk := check(ctx, opts.HTTPClient, r)
		rep.Broker = &chk
	}
	switch opts.Format {
	case output.FormatJSON:
		if err := output.WriteJSON(opts.IO.Out, rep); err != nil {
			return err
		}
	case output.FormatYAML:
		if err := output.WriteYAML(opts.IO.Out, rep); err != nil {
			return err
		}
	default:
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
func check(ctx context.Context, hc *http.Client, r config.Resolved) BrokerCheck {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimRight(r.BrokerURL, "/"), "/api/v1"), "/")
	res := BrokerCheck{URL: base}
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if r.CAFile != "" || r.InsecureSkipVerify {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: r.InsecureSkipVerify} //nolint:gosec // opt-in per context
			if r.CAFile != "" {
				pem, err := os.ReadFile(r.CAFile)
				if err != nil {
					res.Error = err.Error()
					return res
				}
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(pem)
				cfg.RootCAs = pool
			}
			tr.TLSClientConfig = cfg
		}
		hc = &http.Client{Transport: tr}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	res.Status, res.LatencyMs = resp.StatusCode, time.Since(start).Milliseconds()
	res.Reachable = resp.StatusCode == http.StatusOK
	if !res.Reachable {
		res.Error = "healthz answered " + resp.Status
	}
	return res
}
