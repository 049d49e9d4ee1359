package brokercmd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/logx"
)

// webhookKeyFileName is the file, beside the embedded database's directory (where the minted
// admin PAK also lives by default), that keeps the webhook encryption key of a broker running
// on its embedded database without broker.webhook_encryption_key.
const webhookKeyFileName = "webhook-key"

// webhookKeySize is the length of a webhook encryption key in bytes.
const webhookKeySize = 32

// webhookKeyPath is where the embedded default keeps its webhook encryption key.
func webhookKeyPath(cfg config.Broker) string {
	return filepath.Join(filepath.Dir(cfg.Database.DataDir), webhookKeyFileName)
}

// webhookKey returns the webhook encryption key the broker runs with. A configured
// broker.webhook_encryption_key always wins. On the embedded database without one, the key
// is read from the key file beside the database, minted there (mode 0600) at the first start
// and never overwritten; a key file that cannot be read or holds no key stops the start. With
// an external database and no configured key it returns "", leaving the decision to the
// webhook service (a random key per process while no subscription exists).
func webhookKey(cfg config.Broker, log *slog.Logger) (string, error) {
	if key := cfg.Broker.WebhookEncryptionKey; key != "" {
		log.Info("webhook encryption key from the configuration", slog.String("source", "broker.webhook_encryption_key"))
		return key, nil
	}
	if cfg.Database.URL != "" {
		return "", nil
	}
	path := webhookKeyPath(cfg)
	key, err := readWebhookKey(path, log)
	if err == nil {
		log.Info("webhook encryption key from the embedded database's key file", slog.String("source", "file"),
			slog.String("file", path))
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	key, minted, err := mintWebhookKey(path, log)
	if err != nil {
		return "", err
	}
	if minted {
		log.Info("minted webhook encryption key for the embedded database", slog.String("source", "file"),
			slog.String("file", path))
	}
	return key, nil
}

// readWebhookKey reads a key file. A missing file is an error wrapping fs.ErrNotExist; any
// other failure explains how to recover without naming the key.
func readWebhookKey(path string, log *slog.Logger) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("broker.webhook_encryption_key is not set and the webhook key file of the embedded "+
			"database cannot be read (%w); make it readable by the broker, or set broker.webhook_encryption_key "+
			"to the key it holds", err)
	}
	key := strings.ToLower(strings.TrimSpace(string(data)))
	if raw, err := hex.DecodeString(key); err != nil || len(raw) != webhookKeySize {
		return "", fmt.Errorf("webhook key file %s is malformed: it must hold %d hexadecimal characters (a %d-byte "+
			"key); restore it from a backup, or set broker.webhook_encryption_key to the key the webhook "+
			"subscriptions were created with", path, 2*webhookKeySize, webhookKeySize)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the webhook key file is readable by other users; restrict it to mode 0600",
			slog.String("file", path), slog.String("mode", st.Mode().Perm().String()))
	}
	return key, nil
}

// mintWebhookKey creates the key file with a fresh random key, atomically and without ever
// replacing an existing file: the key is written to a temporary file that is then linked to
// path. When another process created path first, its key is returned (minted false).
func mintWebhookKey(path string, log *slog.Logger) (key string, minted bool, err error) {
	raw := make([]byte, webhookKeySize)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("mint webhook encryption key: %w", err)
	}
	key = hex.EncodeToString(raw)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("create webhook key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+webhookKeyFileName+"-*") // mode 0600
	if err != nil {
		return "", false, fmt.Errorf("write webhook key file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, err = tmp.WriteString(key + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("write webhook key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		key, err := readWebhookKey(path, log)
		return key, false, err
	} else if err != nil {
		return "", false, fmt.Errorf("write webhook key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		if err := d.Sync(); err != nil {
			log.Warn("sync webhook key directory", logx.Err(err))
		}
		_ = d.Close()
	}
	return key, true, nil
}

// keepWebhookKey wraps a configuration reload so that a broker running on the key of its
// embedded database keeps reporting that key while the configuration still sets none:
// otherwise every reload would report broker.webhook_encryption_key as changed.
func keepWebhookKey(reload func() (config.Broker, error), key string) func() (config.Broker, error) {
	if reload == nil || key == "" {
		return reload
	}
	return func() (config.Broker, error) {
		c, err := reload()
		if c.Database.URL == "" && c.Broker.WebhookEncryptionKey == "" {
			c.Broker.WebhookEncryptionKey = key
		}
		return c, err
	}
}
