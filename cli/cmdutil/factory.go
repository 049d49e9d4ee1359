// Package cmdutil holds what every brokkrctl command shares: the Factory that hands out
// streams, configuration and a lazily built API client; the error types and exit codes;
// flag helpers; and the dispatch of a command to its run function.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/client"
)

// GlobalOptions are the persistent flags of the root command.
type GlobalOptions struct {
	BrokerURL string
	PAK       string
	Context   string
}

// Factory builds what commands need, lazily: nothing touches the file system or the network
// until a command asks for it. Fields are functions so tests can replace them.
type Factory struct {
	IOStreams  *iostreams.IOStreams
	AppVersion string
	Global     *GlobalOptions

	// Getenv reads the environment (os.Getenv by default).
	Getenv func(string) string
	// ConfigPath returns the configuration file's path.
	ConfigPath func() (string, error)
	// Config loads the configuration file (once).
	Config func() (*config.File, error)
	// SaveConfig writes the configuration file.
	SaveConfig func(*config.File) error
	// Resolve applies flags > environment > file and returns the connection to use.
	Resolve func(ctx context.Context) (config.Resolved, error)
	// Client returns the API client for the resolved connection (built once).
	Client func() (*client.Client, error)
	// NewClient builds a client for an explicit connection (login uses it before saving).
	NewClient func(r config.Resolved) (*client.Client, error)
	// HTTPClient, when set, carries every request (tests inject one).
	HTTPClient *http.Client
	// Now is the clock used for ages in tables.
	Now func() time.Time
}

// TimeNow reads the Factory's clock (the system clock when Now is not set).
func (f *Factory) TimeNow() time.Time {
	if f.Now == nil {
		return time.Now()
	}
	return f.Now()
}

// NewFactory returns the Factory of a real invocation.
func NewFactory(appVersion string, ios *iostreams.IOStreams) *Factory {
	f := &Factory{IOStreams: ios, AppVersion: appVersion, Global: &GlobalOptions{}, Getenv: os.Getenv, Now: time.Now}
	f.ConfigPath = func() (string, error) { return config.Path(f.Getenv) }
	var (
		cfgOnce sync.Once
		cfg     *config.File
		cfgErr  error
	)
	f.Config = func() (*config.File, error) {
		cfgOnce.Do(func() {
			p, err := f.ConfigPath()
			if err != nil {
				cfgErr = err
				return
			}
			cfg, cfgErr = config.Load(p)
		})
		return cfg, cfgErr
	}
	f.SaveConfig = func(file *config.File) error {
		p, err := f.ConfigPath()
		if err != nil {
			return err
		}
		return config.Save(p, file)
	}
	f.Resolve = func(ctx context.Context) (config.Resolved, error) {
		file, err := f.Config()
		if err != nil {
			return config.Resolved{}, err
		}
		g := f.Global
		return config.Resolve(ctx, file, config.Overrides{BrokerURL: g.BrokerURL, PAK: g.PAK, Context: g.Context}, f.Getenv)
	}
	f.NewClient = func(r config.Resolved) (*client.Client, error) {
		opts := []client.Option{client.WithPAK(r.PAK), client.WithUserAgent("brokkrctl/" + f.AppVersion)}
		if f.HTTPClient != nil {
			opts = append(opts, client.WithHTTPClient(f.HTTPClient))
		}
		if r.CAFile != "" || r.InsecureSkipVerify {
			opts = append(opts, client.WithTLS(client.TLSOptions{CAFile: r.CAFile, InsecureSkipVerify: r.InsecureSkipVerify}))
		}
		c, err := client.New(r.BrokerURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("build client: %w", err)
		}
		return c, nil
	}
	var (
		clientOnce sync.Once
		cl         *client.Client
		clErr      error
	)
	f.Client = func() (*client.Client, error) {
		clientOnce.Do(func() {
			r, err := f.Resolve(context.Background())
			switch {
			case errors.Is(err, config.ErrNoBroker):
				clErr = &AuthError{Msg: "no broker configured", Hint: "run brokkrctl login or set BROKKR_BROKER_URL and BROKKR_PAK"}
				return
			case err != nil:
				clErr = err
				return
			case r.PAK == "":
				clErr = &AuthError{Msg: "no PAK configured for " + r.BrokerURL}
				return
			}
			cl, clErr = f.NewClient(r)
		})
		return cl, clErr
	}
	return f
}
