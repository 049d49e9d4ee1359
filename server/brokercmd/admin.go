package brokercmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server"
	"github.com/brokkr/brokkr/server/audit"
)

// newAdminCommand builds `brokkr-broker admin`: minting and rotating the admin PAK without
// the API.
func newAdminCommand(load func(*cobra.Command) (config.Broker, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Mint and rotate the admin PAK",
		Example: `  brokkr-broker admin generate-pak
  brokkr-broker admin rotate-pak --config /etc/brokkr/broker.toml`,
	}
	var genFormat, rotFormat string
	generate := &cobra.Command{
		Use:   "generate-pak",
		Short: "Print a new PAK and the hash to configure as broker.pak_hash",
		Long: `Mint a new PAK with the configured [pak] settings and print it with its hash. Nothing is
stored: set broker.pak_hash (BROKKR__BROKER__PAK_HASH) to the hash to make the key the admin
PAK at the next start of the broker, and keep the key itself secret.`,
		Example: `  brokkr-broker admin generate-pak
  brokkr-broker admin generate-pak -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(genFormat); err != nil {
				return err
			}
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			key, hash, err := pak.Generate(pakSettings(cfg))
			if err != nil {
				return err
			}
			if genFormat == "text" {
				fmt.Fprintln(cmd.ErrOrStderr(), "New PAK (shown only this once). Set broker.pak_hash to pak_hash to make it the admin PAK at the next start:")
			}
			return printPAK(cmd.OutOrStdout(), genFormat, pakResult{PAK: key, PAKHash: hash})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-pak",
		Short: "Replace the admin PAK in the database",
		Long: `Replace the admin PAK in the database the configuration points at (the embedded database
when database.url is empty) and print the new key once. Brokers running on that database
refuse the old key within moments. The new key is also written, mode 0600, to
broker.admin_key_file when the broker uses the embedded database or that key is set.

A configured broker.pak_hash wins at every start of the broker: set it to the printed
pak_hash (or remove it) before the next start, or the old key comes back.`,
		Example: `  brokkr-broker admin rotate-pak
  BROKKR__DATABASE__URL=postgres://brokkr@db:5432/brokkr brokkr-broker admin rotate-pak -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(rotFormat); err != nil {
				return err
			}
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return runRotatePAK(cmd.Context(), cfg, rotFormat, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	generate.Flags().StringVarP(&genFormat, "output", "o", "text", "output format: text or json")
	rotate.Flags().StringVarP(&rotFormat, "output", "o", "text", "output format: text or json")
	cmd.AddCommand(generate, rotate)
	return cmd
}

// pakResult is what generate-pak and rotate-pak print.
type pakResult struct {
	PAK     string `json:"pak"`
	PAKHash string `json:"pak_hash"`
	KeyFile string `json:"key_file,omitempty"` // where rotate-pak wrote the key
	Warning string `json:"warning,omitempty"`
}

func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return fmt.Errorf("--output must be text or json, got %q", f)
	}
	return nil
}

// printPAK prints r as JSON, or as "pak: ..." and "pak_hash: ..." lines.
func printPAK(w io.Writer, format string, r pakResult) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	_, err := fmt.Fprintf(w, "pak: %s\npak_hash: %s\n", r.PAK, r.PAKHash)
	return err
}

// pakSettings are the [pak] settings the broker mints keys with.
func pakSettings(cfg config.Broker) pak.Settings {
	s := pak.Settings{Prefix: cfg.PAK.Prefix, ShortTokenPrefix: cfg.PAK.ShortTokenPrefix,
		ShortTokenLength: cfg.PAK.ShortTokenLength, LongTokenLength: cfg.PAK.LongTokenLength}
	if s.Prefix == "" {
		return pak.DefaultSettings()
	}
	return s
}

// adminKeyFile is where rotate-pak writes the new key: broker.admin_key_file when the
// broker uses the embedded database, or when that key is set to something else than its
// default beside the data directory; "" otherwise (a database elsewhere: the file would be
// on this machine only).
func adminKeyFile(cfg config.Broker) string {
	if cfg.Database.URL == "" {
		return cfg.Broker.AdminKeyFile
	}
	if cfg.Broker.AdminKeyFile == filepath.Join(filepath.Dir(cfg.Database.DataDir), "admin-pak") {
		return ""
	}
	return cfg.Broker.AdminKeyFile
}

// runRotatePAK is `brokkr-broker admin rotate-pak`.
func runRotatePAK(ctx context.Context, cfg config.Broker, format string, stdout, stderr io.Writer) error {
	// An embedded database already serving a broker is left running.
	url, stop, err := databaseURL(ctx, cfg, nil, false)
	if err != nil {
		return err
	}
	defer stop()
	store, err := db.Open(ctx, url, db.Options{Schema: cfg.Database.Schema, MaxConnections: 2})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	key, hash, err := pak.Generate(pakSettings(cfg))
	if err != nil {
		return err
	}
	// The old key is evicted by the database's notification to every running broker.
	if _, err := db.RotateAdminPAKHash(ctx, store, hash); err != nil {
		return fmt.Errorf("rotate the admin PAK: %w", err)
	}
	res := pakResult{PAK: key, PAKHash: hash}
	details, _ := json.Marshal(map[string]any{"role": "admin", "command": "brokkr-broker admin rotate-pak"})
	if err := db.InsertAuditLogs(ctx, store, []db.AuditRecord{{Timestamp: time.Now(), ActorType: audit.ActorSystem,
		Action: audit.PAKRotated, ResourceType: audit.ResourcePAK, Details: details}}); err != nil {
		fmt.Fprintln(stderr, "warning: the rotation is not in the audit log:", err)
	}
	var fileErr error
	if path := adminKeyFile(cfg); path != "" {
		if fileErr = replaceKeyFile(path, key); fileErr == nil {
			res.KeyFile = path
		}
	}
	if cfg.Broker.PAKHash != "" {
		res.Warning = server.AdminPAKHashWarning(hash)
		fmt.Fprintln(stderr, "warning:", res.Warning)
	}
	if format == "text" {
		msg := "Rotated the admin PAK: brokers on this database refuse the old key now. The new key is shown only this once"
		if res.KeyFile != "" {
			msg += " and was written to " + res.KeyFile
		}
		fmt.Fprintln(stderr, msg+":")
	}
	if err := printPAK(stdout, format, res); err != nil {
		return err
	}
	if fileErr != nil {
		return fmt.Errorf("the admin PAK was rotated (the new key is printed above) but not written to its file: %w", fileErr)
	}
	return nil
}
