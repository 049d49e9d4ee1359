// Package secretbox encrypts small secrets (webhook URLs and Authorization headers) for storage
// at rest with AES-256-GCM.
//
// A sealed value is version byte 0x01, a 12-byte random nonce, then the GCM ciphertext with its
// 16-byte tag. Open also reads the legacy layout of older Brokkr brokers: version byte 0x00 (or
// no version byte at all, when the first byte is anything but 0x01 and the value is at least 16
// bytes long), a 16-byte nonce, then the data XORed with SHA-256(key ‖ nonce) repeated. The
// legacy layout is read-only; Seal always writes AES-256-GCM.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key in bytes.
const KeySize = 32

const (
	versionLegacy = 0x00
	versionGCM    = 0x01

	gcmNonceSize    = 12
	legacyNonceSize = 16
)

// ErrDecrypt reports a value that cannot be opened with the key: wrong key, tampered or
// truncated data.
var ErrDecrypt = errors.New("secretbox: cannot decrypt value")

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	key  [KeySize]byte
	aead cipher.AEAD
}

// New returns a box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	b := &Box{aead: aead}
	copy(b.key[:], key)
	return b, nil
}

// ParseHexKey returns a box for a key written as 64 hexadecimal characters.
func ParseHexKey(s string) (*Box, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("secretbox: key is not hexadecimal: %w", err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d hexadecimal characters, got %d", 2*KeySize, len(strings.TrimSpace(s)))
	}
	return New(raw)
}

// Random returns a box for a fresh random key.
func Random() (*Box, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secretbox: random key: %w", err)
	}
	return New(key)
}

// Fingerprint identifies the key without revealing it: the first 8 bytes of its SHA-256, in hex.
func (b *Box) Fingerprint() string {
	sum := sha256.Sum256(b.key[:])
	return hex.EncodeToString(sum[:8])
}

// Seal encrypts plaintext with a fresh random nonce.
func (b *Box) Seal(plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+gcmNonceSize, 1+gcmNonceSize+len(plaintext)+b.aead.Overhead())
	out[0] = versionGCM
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:1+gcmNonceSize], plaintext, nil), nil
}

// SealString encrypts a string.
func (b *Box) SealString(s string) ([]byte, error) { return b.Seal([]byte(s)) }

// Open decrypts a sealed value, in the current or the legacy layout.
func (b *Box) Open(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty value", ErrDecrypt)
	}
	switch data[0] {
	case versionGCM:
		body := data[1:]
		if len(body) < gcmNonceSize+b.aead.Overhead() {
			return nil, fmt.Errorf("%w: value too short", ErrDecrypt)
		}
		plain, err := b.aead.Open(nil, body[:gcmNonceSize], body[gcmNonceSize:], nil)
		if err != nil {
			return nil, fmt.Errorf("%w: authentication failed", ErrDecrypt)
		}
		return plain, nil
	case versionLegacy:
		return b.openLegacy(data[1:])
	default:
		// Values written before version bytes existed start directly with their nonce.
		return b.openLegacy(data)
	}
}

// OpenString decrypts a sealed value that holds text.
func (b *Box) OpenString(data []byte) (string, error) {
	plain, err := b.Open(data)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// openLegacy reads nonce(16) ‖ data XORed with SHA-256(key ‖ nonce) repeated. The layout has no
// authentication, so any long enough value "opens"; it exists only to read old rows.
func (b *Box) openLegacy(data []byte) ([]byte, error) {
	if len(data) < legacyNonceSize {
		return nil, fmt.Errorf("%w: legacy value too short", ErrDecrypt)
	}
	mask := legacyMask(b.key[:], data[:legacyNonceSize])
	body := data[legacyNonceSize:]
	out := make([]byte, len(body))
	for i, c := range body {
		out[i] = c ^ mask[i%len(mask)]
	}
	return out, nil
}

func legacyMask(key, nonce []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(key)
	h.Write(nonce)
	var mask [sha256.Size]byte
	h.Sum(mask[:0])
	return mask
}
