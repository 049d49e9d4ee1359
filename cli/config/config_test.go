package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit", map[string]string{EnvConfig: "/x/c.yaml", "XDG_CONFIG_HOME": "/xdg"}, "/x/c.yaml"},
		{"xdg", map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/brokkr/config.yaml"},
		{"home", map[string]string{"HOME": "/home/u"}, "/home/u/.config/brokkr/config.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(env(tt.env))
			if err != nil || got != filepath.FromSlash(tt.want) {
				t.Fatalf("Path = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSaveLoadModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "brokkr")
	path := filepath.Join(dir, "config.yaml")
	f := &File{CurrentContext: "a", Contexts: []Context{{Name: "a", BrokerURL: "http://a:3000", PAK: "brokkr_BR1_x"}}}
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", p, st.Mode().Perm(), want)
		}
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "a" || len(got.Contexts) != 1 || got.Contexts[0] != f.Contexts[0] {
		t.Fatalf("round trip: %+v", got)
	}
	missing, err := Load(filepath.Join(dir, "nope.yaml"))
	if err != nil || len(missing.Contexts) != 0 {
		t.Fatalf("missing file: %+v, %v", missing, err)
	}
}

func TestResolvePrecedence(t *testing.T) {
	f := &File{CurrentContext: "file", Contexts: []Context{
		{Name: "file", BrokerURL: "http://file:1", PAK: "file-pak", CAFile: "/ca.pem"},
		{Name: "other", BrokerURL: "http://other:1", PAKCommand: "echo ' cmd-pak '"},
	}}
	tests := []struct {
		name      string
		o         Overrides
		env       map[string]string
		url, pak  string
		src, ctx  string
		wantError bool
	}{
		{name: "file", url: "http://file:1", pak: "file-pak", src: "file", ctx: "file"},
		{name: "env beats file", env: map[string]string{EnvBrokerURL: "http://env:1", EnvPAK: "env-pak"}, url: "http://env:1", pak: "env-pak", src: "env", ctx: "file"},
		{name: "flags beat env", o: Overrides{BrokerURL: "http://flag:1", PAK: "flag-pak"}, env: map[string]string{EnvBrokerURL: "http://env:1", EnvPAK: "env-pak"}, url: "http://flag:1", pak: "flag-pak", src: "flag", ctx: "file"},
		{name: "env context with pak command", env: map[string]string{EnvContext: "other"}, url: "http://other:1", pak: "cmd-pak", src: "command", ctx: "other"},
		{name: "flag context beats env context", o: Overrides{Context: "file"}, env: map[string]string{EnvContext: "other"}, url: "http://file:1", pak: "file-pak", src: "file", ctx: "file"},
		{name: "unknown context", o: Overrides{Context: "nope"}, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Resolve(context.Background(), f, tt.o, env(tt.env))
			if tt.wantError {
				if err == nil {
					t.Fatalf("want error, got %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.BrokerURL != tt.url || r.PAK != tt.pak || r.PAKSource != tt.src || r.Context != tt.ctx {
				t.Fatalf("got %+v", r)
			}
		})
	}
	if _, err := Resolve(context.Background(), &File{}, Overrides{}, env(nil)); !errors.Is(err, ErrNoBroker) {
		t.Fatalf("empty config: %v", err)
	}
}

func TestMaskPAK(t *testing.T) {
	for in, want := range map[string]string{"": "", "brokkr_BRabc_secret": "brokkr_BRabc_****", "abcdefghij": "abcd****", "short": "****"} {
		if got := MaskPAK(in); got != want {
			t.Errorf("MaskPAK(%q) = %q, want %q", in, got, want)
		}
	}
}
