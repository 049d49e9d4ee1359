// Package pak implements prefixed API keys (PAKs): generation, parsing and hashing.
//
// A PAK has the form <prefix>_<short>_<long>. Only the long token authenticates: its
// lowercase hex SHA-256 is what the broker stores and compares. Plaintext keys are never stored.
package pak

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Settings control the shape of generated keys. The zero value is not valid; use DefaultSettings.
type Settings struct {
	Prefix           string // "brokkr"
	ShortTokenPrefix string // "BR"
	ShortTokenLength int    // total length of the short token, prefix included (8)
	LongTokenLength  int    // random bytes behind the long token (24)
}

// DefaultSettings returns the settings of the reference implementation.
func DefaultSettings() Settings {
	return Settings{Prefix: "brokkr", ShortTokenPrefix: "BR", ShortTokenLength: 8, LongTokenLength: 24}
}

// ErrMalformed is returned for a credential that is not a three-part PAK.
var ErrMalformed = errors.New("malformed PAK")

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58 encodes b with the Bitcoin alphabet.
func base58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	n := new(big.Int).SetBytes(b)
	radix := big.NewInt(58)
	mod := new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for i := 0; i < zeros; i++ {
		out = append(out, base58Alphabet[0])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

// Generate mints a new PAK and returns its plaintext and hash.
func Generate(s Settings) (plaintext, hash string, err error) {
	if s.Prefix == "" || !keyText(s.Prefix) || !keyText(s.ShortTokenPrefix) || s.LongTokenLength <= 0 || s.ShortTokenLength <= 0 {
		return "", "", fmt.Errorf("generate PAK: invalid settings %+v", s)
	}
	short := s.ShortTokenPrefix
	for len(short) < s.ShortTokenLength {
		b, err := randomBytes(8)
		if err != nil {
			return "", "", err
		}
		short += base58(b)
	}
	short = short[:s.ShortTokenLength]
	lb, err := randomBytes(s.LongTokenLength)
	if err != nil {
		return "", "", err
	}
	long := base58(lb)
	if strings.Contains(short, "_") || strings.Contains(long, "_") {
		return "", "", errors.New("generate PAK: token contains separator")
	}
	return s.Prefix + "_" + short + "_" + long, HashToken(long), nil
}

// keyText reports whether s may stand in a key: visible ASCII without the separator, so that
// every key minted can be sent in an Authorization header and parsed back.
func keyText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '_' {
			return false
		}
	}
	return true
}

// HashToken returns the lowercase hex SHA-256 of a long token.
func HashToken(long string) string {
	sum := sha256.Sum256([]byte(long))
	return hex.EncodeToString(sum[:])
}

// Parse extracts the long token from a PAK. The prefix and short token are not checked.
func Parse(key string) (long string, err error) {
	parts := strings.Split(key, "_")
	if len(parts) != 3 || parts[2] == "" {
		return "", ErrMalformed
	}
	return parts[2], nil
}

// Hash parses a PAK and returns the hash of its long token.
func Hash(key string) (string, error) {
	long, err := Parse(key)
	if err != nil {
		return "", err
	}
	return HashToken(long), nil
}

// FromHeader extracts a PAK from an Authorization header value: either the bare key or
// "Bearer <key>" (scheme case-insensitive). Surrounding whitespace is ignored. Values with
// characters outside visible ASCII are rejected.
func FromHeader(v string) (string, error) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			if c != '\t' {
				return "", ErrMalformed
			}
		}
	}
	v = strings.TrimSpace(v)
	if len(v) >= 6 && strings.EqualFold(v[:6], "bearer") && (len(v) == 6 || v[6] == ' ' || v[6] == '\t') {
		v = strings.TrimSpace(v[6:])
	}
	if v == "" {
		return "", ErrMalformed
	}
	return v, nil
}

// Equal compares two hashes in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// ValidHash reports whether h looks like a PAK hash (64 lowercase or uppercase hex characters).
func ValidHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
