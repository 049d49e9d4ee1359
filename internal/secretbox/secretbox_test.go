package secretbox

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

const testKeyHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func mustBox(t *testing.T) *Box {
	t.Helper()
	b, err := ParseHexKey(testKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := mustBox(t)
	for _, s := range []string{"", "https://hooks.example.com/x?token=secret", strings.Repeat("é", 1000)} {
		sealed, err := b.SealString(s)
		if err != nil {
			t.Fatal(err)
		}
		if sealed[0] != 0x01 {
			t.Fatalf("version byte %#x, want 0x01", sealed[0])
		}
		if want := 1 + 12 + len(s) + 16; len(sealed) != want {
			t.Fatalf("sealed length %d, want %d", len(sealed), want)
		}
		if bytes.Contains(sealed, []byte(s)) && s != "" {
			t.Fatal("plaintext visible in sealed value")
		}
		got, err := b.OpenString(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if got != s {
			t.Fatalf("round trip: got %q, want %q", got, s)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	b := mustBox(t)
	a1, _ := b.SealString("same")
	a2, _ := b.SealString("same")
	if bytes.Equal(a1, a2) {
		t.Fatal("two seals of the same value are identical")
	}
}

func TestOpenRejectsWrongKeyTamperingAndShortValues(t *testing.T) {
	b := mustBox(t)
	other, err := Random()
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := b.SealString("secret")
	if _, err := other.Open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: err %v, want ErrDecrypt", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 0xff
	if _, err := b.Open(tampered); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered: err %v, want ErrDecrypt", err)
	}
	for _, v := range [][]byte{nil, {0x01, 1, 2, 3}, {0x00, 1, 2}, {0x07, 1, 2}} {
		if _, err := b.Open(v); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("short value %v: err %v, want ErrDecrypt", v, err)
		}
	}
}

// legacySeal writes the legacy layout the way older brokers did.
func legacySeal(key []byte, nonce []byte, plain string) []byte {
	h := sha256.New()
	h.Write(key)
	h.Write(nonce)
	mask := h.Sum(nil)
	out := bytes.Clone(nonce)
	for i := range len(plain) {
		out = append(out, plain[i]^mask[i%len(mask)])
	}
	return out
}

func TestOpenReadsLegacyLayouts(t *testing.T) {
	b := mustBox(t)
	key := b.key[:]
	plain := "https://legacy.example.com/hook/with/a/path/longer/than/thirty-two/bytes"

	// Without a version byte: the value starts with its nonce (first byte neither 0x00 nor 0x01).
	nonce := []byte("\x7fLEGACYNONCE1234")
	got, err := b.OpenString(legacySeal(key, nonce, plain))
	if err != nil || got != plain {
		t.Fatalf("unversioned legacy: got %q, %v", got, err)
	}

	// With version byte 0x00 in front.
	versioned := append([]byte{0x00}, legacySeal(key, []byte("0123456789abcdef"), plain)...)
	got, err = b.OpenString(versioned)
	if err != nil || got != plain {
		t.Fatalf("versioned legacy: got %q, %v", got, err)
	}
}

func TestParseHexKey(t *testing.T) {
	if _, err := ParseHexKey(strings.ToUpper(testKeyHex)); err != nil {
		t.Fatalf("upper-case key: %v", err)
	}
	for _, bad := range []string{"", "abcd", testKeyHex + "00", strings.Repeat("zz", 32)} {
		if _, err := ParseHexKey(bad); err == nil {
			t.Fatalf("ParseHexKey(%q) accepted", bad)
		}
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("New accepted a 16-byte key")
	}
}

func TestFingerprintAndRandomKeys(t *testing.T) {
	b := mustBox(t)
	if fp := b.Fingerprint(); len(fp) != 16 || fp != mustBox(t).Fingerprint() {
		t.Fatalf("fingerprint %q not stable 16 hex chars", fp)
	}
	r1, _ := Random()
	r2, _ := Random()
	if r1.Fingerprint() == r2.Fingerprint() {
		t.Fatal("two random keys are equal")
	}
	sealed, _ := r1.SealString("x")
	if _, err := r2.Open(sealed); err == nil {
		t.Fatal("a random key opened another's value")
	}
}
