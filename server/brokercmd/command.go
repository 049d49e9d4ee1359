// Package brokercmd is the brokkr-broker command line: configuration loading, the embedded
// database for brokers without database.url, schema migrations and serving the broker.
package brokercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/buildinfo"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/logging"
	"github.com/brokkr/brokkr/internal/pgserver"
	"github.com/brokkr/brokkr/internal/tracing"
	"github.com/brokkr/brokkr/server"
)

// Main runs the brokkr-broker command line and returns the process exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewCommand(os.Stdout, os.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// NewCommand builds the brokkr-broker command tree.
func NewCommand(stdout, stderr io.Writer) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "brokkr-broker",
		Short: "The brokkr broker: the hub of a brokkr fleet",
		Long: `brokkr-broker serves the Brokkr v1 REST API under /api/v1 for agents, generators,
brokkrctl and the TUI, backed by PostgreSQL.

Without database.url it starts and owns a local PostgreSQL (from the machine's initdb/pg_ctl)
in its data directory, so one command gives a working broker.`,
		Example: `  # start with an embedded database, listening on 0.0.0.0:3000
  brokkr-broker serve

  # use an existing PostgreSQL and a fixed admin key hash
  BROKKR__DATABASE__URL=postgres://brokkr@db:5432/brokkr \
  BROKKR__BROKER__PAK_HASH=<64 hex> brokkr-broker serve --listen 127.0.0.1:3000`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().String(),
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&configFile, "config", "", "configuration file (.toml, .yaml or .json); default $BROKKR_CONFIG_FILE")
	root.PersistentFlags().String("database-url", "", "PostgreSQL URL (database.url); empty = embedded database")
	root.PersistentFlags().String("data-dir", "", "embedded database directory (database.data_dir)")
	root.PersistentFlags().String("log-level", "", "log level: debug, info, warn, error (log.level)")
	root.PersistentFlags().String("log-format", "", "log format: text or json (log.format)")

	load := func(cmd *cobra.Command) (config.Broker, error) {
		cfg, warnings, err := config.LoadBroker(config.LoadOptions{File: configFile, Flags: cmd.Flags()})
		for _, w := range warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
		return cfg, err
	}

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker",
		Long: `Run the broker: migrate the database, bootstrap the admin identity, and serve the API
until SIGINT or SIGTERM, then shut down gracefully.`,
		Example: `  brokkr-broker serve --listen 127.0.0.1:3000
  brokkr-broker serve --config /etc/brokkr/broker.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			reload := func() (config.Broker, error) {
				c, _, err := config.LoadBroker(config.LoadOptions{File: configFile, Flags: cmd.Flags()})
				return c, err
			}
			file := config.LoadOptions{File: configFile}.ConfigFile()
			return runServe(cmd.Context(), cfg, reload, file, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	serve.Flags().String("listen", "", "listen address host:port (broker.listen_addr, default 0.0.0.0:3000)")

	migrateCmd := &cobra.Command{
		Use:   "migrate",
		Short: "Manage the database schema",
		Example: `  brokkr-broker migrate up
  brokkr-broker migrate down 1
  brokkr-broker migrate version`,
	}
	up := &cobra.Command{
		Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDatabaseURL(cmd, load, func(ctx context.Context, url, schema string) error {
				if err := db.MigrateUp(ctx, url, schema); err != nil {
					return err
				}
				v, _, err := db.MigrationVersion(ctx, url, schema)
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "database at version %d\n", v)
				}
				return err
			})
		},
	}
	down := &cobra.Command{
		Use: "down [STEPS]", Short: "Revert migrations (all of them without STEPS)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			steps := 0
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 1 {
					return fmt.Errorf("STEPS must be a positive integer, got %q", args[0])
				}
				steps = n
			}
			return withDatabaseURL(cmd, load, func(ctx context.Context, url, schema string) error {
				if err := db.MigrateDown(ctx, url, schema, steps); err != nil {
					return err
				}
				v, _, err := db.MigrationVersion(ctx, url, schema)
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "database at version %d\n", v)
				}
				return err
			})
		},
	}
	version := &cobra.Command{
		Use: "version", Short: "Print the schema version of the database", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDatabaseURL(cmd, load, func(ctx context.Context, url, schema string) error {
				v, dirty, err := db.MigrationVersion(ctx, url, schema)
				if err != nil {
					return err
				}
				state := ""
				if dirty {
					state = " (dirty)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "database at version %d%s; this binary has %d\n", v, state, db.LatestMigrationVersion())
				return nil
			})
		},
	}
	migrateCmd.AddCommand(up, down, version)

	configCmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration with secrets masked",
		Long: `Print the effective configuration (defaults, then the file, then BROKKR__SECTION__KEY
environment variables, then flags) as YAML, with secrets masked.`,
		Example: `  BROKKR__LOG__LEVEL=debug brokkr-broker config show`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			out, err := cfg.Redacted().YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	show.Flags().String("listen", "", "listen address host:port (broker.listen_addr)")
	configCmd.AddCommand(show)
	root.AddCommand(serve, migrateCmd, configCmd, newAdminCommand(load))
	return root
}

// withDatabaseURL runs fn against the configured database, starting the embedded one for the
// duration of the call when no URL is configured.
func withDatabaseURL(cmd *cobra.Command, load func(*cobra.Command) (config.Broker, error), fn func(ctx context.Context, url, schema string) error) error {
	cfg, err := load(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	url, stop, err := databaseURL(ctx, cfg, nil, true)
	if err != nil {
		return err
	}
	defer stop()
	return fn(ctx, url, cfg.Database.Schema)
}

// embeddedDatabase is the name of the database the broker creates in its embedded server.
const embeddedDatabase = "brokkr"

// databaseURL returns the configured database URL, or starts the embedded PostgreSQL and
// returns its URL. stop releases what was started; an embedded server found already running
// (a broker serving from the same data directory) is stopped only when stopAdopted is set.
func databaseURL(ctx context.Context, cfg config.Broker, log *slog.Logger, stopAdopted bool) (url string, stop func(), err error) {
	if cfg.Database.URL != "" {
		return cfg.Database.URL, func() {}, nil
	}
	if _, err := pgserver.FindBinDir(); err != nil {
		return "", nil, fmt.Errorf("database.url is not set, so the broker would start an embedded PostgreSQL, but %w", err)
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{
		DataDir: cfg.Database.DataDir,
		Port:    cfg.Database.EmbeddedPort,
		Logger:  log,
	})
	if err != nil {
		return "", nil, fmt.Errorf("start embedded database in %s: %w", cfg.Database.DataDir, err)
	}
	stop = func() {
		if srv.Adopted() && !stopAdopted {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(sctx); err != nil && log != nil {
			log.Error("stop embedded database", slog.Any("error", err))
		}
	}
	if err := ensureDatabase(ctx, srv.URL("postgres"), embeddedDatabase); err != nil {
		stop()
		return "", nil, err
	}
	return srv.URL(embeddedDatabase), stop, nil
}

// ensureDatabase creates a database if it does not exist.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to embedded database: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// runServe is `brokkr-broker serve`.
func runServe(ctx context.Context, cfg config.Broker, reload func() (config.Broker, error), configFile string, stdout, stderr io.Writer) error {
	log, levelVar, err := logging.New(cfg.Log.Level, cfg.Log.Format, stderr)
	if err != nil {
		return err
	}
	log.Info("starting brokkr-broker", slog.String("version", buildinfo.Get().Version))
	url, stopDB, err := databaseURL(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer stopDB()
	if cfg.Database.URL == "" {
		log.Info("embedded database running", slog.String("data_dir", cfg.Database.DataDir))
	}
	fromFile := cfg.Broker.WebhookEncryptionKey == ""
	if cfg.Broker.WebhookEncryptionKey, err = webhookKey(cfg, log); err != nil {
		return err
	}
	if fromFile {
		reload = keepWebhookKey(reload, cfg.Broker.WebhookEncryptionKey)
	}
	if err := db.MigrateUp(ctx, url, cfg.Database.Schema); err != nil {
		return err
	}
	traces, err := tracing.New(ctx, cfg.Telemetry.ForBroker(), tracing.Options{Logger: log, Component: "broker"})
	if err != nil {
		return err
	}
	tracing.SetGlobal(traces, log)
	defer traces.Stop(log)
	store, err := db.Open(ctx, url, db.Options{Schema: cfg.Database.Schema, MaxConnections: cfg.Database.MaxConnections,
		TracerProvider: traces.TracerProvider()})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()

	srv, err := server.New(server.Options{Config: cfg, DB: store, Logger: log, LogLevel: levelVar,
		Reload: reload, ConfigFile: configFile, TracerProvider: traces.TracerProvider()})
	if err != nil {
		return err
	}
	defer srv.Close()
	minted, err := srv.Bootstrap(ctx)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Broker.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Broker.ListenAddr, err)
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "brokkr-broker listening on http://%s (API under /api/v1)\n", displayAddr(addr))
	if minted != "" {
		fmt.Fprintf(stdout, "admin PAK (shown once, also written to %s):\n  %s\n", cfg.Broker.AdminKeyFile, minted)
	} else if cfg.Broker.PAKHash == "" {
		fmt.Fprintf(stdout, "admin PAK: minted at first start; see %s\n", cfg.Broker.AdminKeyFile)
	}
	if cfg.Broker.DebugListenAddr != "" {
		debug, err := startDebug(ctx, cfg.Broker.DebugListenAddr, log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer debug.stop()
		fmt.Fprintf(stdout, "profiler on http://%s/debug/pprof/ (no authentication)\n", displayAddr(debug.Addr()))
		log.Info("profiler listening", slog.String("addr", debug.Addr()))
	}
	log.Info("listening", slog.String("addr", addr))
	err = srv.Serve(ctx, ln)
	log.Info("stopped")
	return err
}

// displayAddr turns a wildcard listen address into one a person can open.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
