package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
)

// Bootstrap prepares the database for this broker (admin identity, system generator). When
// it mints a new admin PAK it writes it to broker.admin_key_file (mode 0600) and returns it.
func (s *Server) Bootstrap(ctx context.Context) (minted string, err error) {
	cfg := s.Config()
	configured := cfg.Broker.PAKHash
	if configured != "" && !pak.ValidHash(configured) {
		return "", errors.New("broker.pak_hash must be 64 hexadecimal characters")
	}
	res, err := db.Bootstrap(ctx, s.db, configured, func() (string, error) {
		key, hash, err := pak.Generate(s.pak)
		if err != nil {
			return "", err
		}
		minted = key
		return hash, nil
	})
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	if minted != "" && res.AdminHash != "" {
		if err := writeKeyFile(cfg.Broker.AdminKeyFile, minted); err != nil {
			return "", err
		}
		s.log.Info("minted admin PAK", slog.String("file", cfg.Broker.AdminKeyFile))
	}
	if res.AdminHash == defaultAdminHash {
		s.metrics.defaultAdminKey.Set(1)
		s.log.Warn("the admin PAK is the publicly known development key; set broker.pak_hash")
	}
	if err := s.webhooks.CheckKey(ctx); err != nil {
		return "", err
	}
	return minted, nil
}

// writeKeyFile writes a secret to path with mode 0600, creating parent directories (0700).
func writeKeyFile(path, key string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write admin key: %w", err)
	}
	return nil
}
