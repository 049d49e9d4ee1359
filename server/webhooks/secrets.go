package webhooks

import (
	"fmt"
	"sync"

	"github.com/brokkr/brokkr/internal/secretbox"
)

// processKey is the random key used when broker.webhook_encryption_key is unset: one per
// process, so secrets stored with it are lost at restart (CheckKey refuses to start over
// existing subscriptions in that case).
var processKey = sync.OnceValues(secretbox.Random)

// secrets returns the box that seals and opens webhook URLs and auth headers.
func (w *Service) secrets() (*secretbox.Box, error) {
	w.boxOnce.Do(func() {
		if key := w.config().Broker.WebhookEncryptionKey; key != "" {
			w.box, w.boxErr = secretbox.ParseHexKey(key)
		} else {
			w.box, w.boxErr = processKey()
		}
	})
	return w.box, w.boxErr
}

// Seal encrypts a subscription's URL or auth header for storage.
func (w *Service) Seal(v string) ([]byte, error) {
	box, err := w.secrets()
	if err != nil {
		return nil, err
	}
	return box.SealString(v)
}

// target is a subscription's decrypted endpoint.
type target struct {
	url        string
	authHeader *string
}

// decryptError is a stored webhook secret that cannot be decrypted.
type decryptError struct {
	field string // url or auth_header
	err   error
}

func (e *decryptError) Error() string { return "decrypt webhook " + e.field + ": " + e.err.Error() }
func (e *decryptError) Unwrap() error { return e.err }

// lastError is how the failure is recorded on a delivery.
func (e *decryptError) lastError() string {
	name := "URL"
	if e.field == "auth_header" {
		name = "auth header"
	}
	return fmt.Sprintf("Failed to decrypt %s: %v", name, e.err)
}

// open decrypts a subscription's URL and auth header (nil: none). A failure returns a
// *decryptError and, when path is set (broker or agent), counts in
// brokkr_webhook_decrypt_failures_total.
func (w *Service) open(urlEnc, authEnc []byte, path string) (target, error) {
	box, err := w.secrets()
	if err != nil {
		return target{}, err
	}
	fail := func(field string, err error) (target, error) {
		if path != "" {
			w.decryptFailures.WithLabelValues(field, path).Inc()
		}
		return target{}, &decryptError{field: field, err: err}
	}
	url, err := box.OpenString(urlEnc)
	if err != nil {
		return fail("url", err)
	}
	t := target{url: url}
	if authEnc != nil {
		h, err := box.OpenString(authEnc)
		if err != nil {
			return fail("auth_header", err)
		}
		t.authHeader = &h
	}
	return t, nil
}
