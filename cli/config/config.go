// Package config reads and writes brokkrctl's configuration file and resolves which broker
// and key a command uses.
//
// The file lives at $BROKKR_CONFIG, else $XDG_CONFIG_HOME/brokkr/config.yaml, else
// ~/.config/brokkr/config.yaml. It holds named contexts and the current one:
//
//	current_context: prod
//	contexts:
//	  - name: prod
//	    broker_url: https://brokkr.example.com
//	    pak_command: pass show brokkr/prod
//	    ca_file: /etc/ssl/brokkr-ca.pem
//
// Precedence, highest first: the flags --broker-url, --pak, --context; the environment
// BROKKR_BROKER_URL, BROKKR_PAK, BROKKR_CONTEXT; the file.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Environment variables read by Resolve and Path.
const (
	EnvConfig    = "BROKKR_CONFIG"
	EnvBrokerURL = "BROKKR_BROKER_URL"
	EnvPAK       = "BROKKR_PAK"
	EnvContext   = "BROKKR_CONTEXT"
)

// Context is one named broker connection.
type Context struct {
	Name               string `yaml:"name" json:"name"`
	BrokerURL          string `yaml:"broker_url" json:"broker_url"`
	PAK                string `yaml:"pak,omitempty" json:"pak,omitempty"`
	PAKCommand         string `yaml:"pak_command,omitempty" json:"pak_command,omitempty"`
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// File is the content of the configuration file.
type File struct {
	CurrentContext string    `yaml:"current_context,omitempty" json:"current_context,omitempty"`
	Contexts       []Context `yaml:"contexts" json:"contexts"`
}

// Lookup returns the context with this name.
func (f *File) Lookup(name string) (*Context, bool) {
	for i := range f.Contexts {
		if f.Contexts[i].Name == name {
			return &f.Contexts[i], true
		}
	}
	return nil, false
}

// Upsert adds ctx or replaces the context of the same name.
func (f *File) Upsert(ctx Context) {
	if c, ok := f.Lookup(ctx.Name); ok {
		*c = ctx
		return
	}
	f.Contexts = append(f.Contexts, ctx)
}

// Remove deletes the named context and clears current_context when it pointed there.
// It reports whether a context was removed.
func (f *File) Remove(name string) bool {
	for i := range f.Contexts {
		if f.Contexts[i].Name == name {
			f.Contexts = append(f.Contexts[:i], f.Contexts[i+1:]...)
			if f.CurrentContext == name {
				f.CurrentContext = ""
			}
			return true
		}
	}
	return false
}

// Path returns the configuration file's path from the environment.
func Path(getenv func(string) string) (string, error) {
	if p := getenv(EnvConfig); p != "" {
		return p, nil
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if runtime.GOOS == "windows" && home == "" {
			home = getenv("USERPROFILE")
		}
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("config: find home directory: %w", err)
			}
			home = h
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "brokkr", "config.yaml"), nil
}

// Load reads the file at path; a missing file is an empty configuration.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	var f File
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("config: parse %s: %w", path, err)
	}
	return &f, nil
}

// Save writes f to path atomically with mode 0600, creating the directory with mode 0700.
func Save(path string, f *File) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: create %s: %w", dir, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("config: chmod: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: replace %s: %w", path, err)
	}
	return nil
}

// Overrides are the values given on the command line; empty fields are unset.
type Overrides struct {
	BrokerURL string
	PAK       string
	Context   string
}

// Resolved is the connection a command uses.
type Resolved struct {
	Context            string // name of the context used ("" when none)
	BrokerURL          string
	PAK                string
	PAKSource          string // "flag", "env", "file", "command" or ""
	CAFile             string
	InsecureSkipVerify bool
}

// ErrNoBroker means no broker URL was found anywhere.
var ErrNoBroker = errors.New("no broker configured")

// Resolve applies the precedence flags > environment > file. It fails when a context is
// named but missing, or when the context's pak_command fails.
func Resolve(ctx context.Context, f *File, o Overrides, getenv func(string) string) (Resolved, error) {
	var r Resolved
	name := firstNonEmpty(o.Context, getenv(EnvContext))
	explicit := name != ""
	if name == "" {
		name = f.CurrentContext
	}
	var cur *Context
	if name != "" {
		c, ok := f.Lookup(name)
		if !ok && explicit {
			return r, fmt.Errorf("context %q not found in the configuration file", name)
		}
		if ok {
			cur = c
			r.Context = c.Name
		}
	}
	if cur != nil {
		r.BrokerURL, r.CAFile, r.InsecureSkipVerify = cur.BrokerURL, cur.CAFile, cur.InsecureSkipVerify
	}
	if v := getenv(EnvBrokerURL); v != "" {
		r.BrokerURL = v
	}
	if o.BrokerURL != "" {
		r.BrokerURL = o.BrokerURL
	}
	switch {
	case o.PAK != "":
		r.PAK, r.PAKSource = o.PAK, "flag"
	case getenv(EnvPAK) != "":
		r.PAK, r.PAKSource = getenv(EnvPAK), "env"
	case cur != nil && cur.PAK != "":
		r.PAK, r.PAKSource = cur.PAK, "file"
	case cur != nil && cur.PAKCommand != "":
		pak, err := RunPAKCommand(ctx, cur.PAKCommand)
		if err != nil {
			return r, err
		}
		r.PAK, r.PAKSource = pak, "command"
	}
	r.PAK = strings.TrimSpace(r.PAK)
	if r.BrokerURL == "" {
		return r, ErrNoBroker
	}
	return r, nil
}

// RunPAKCommand runs command through the shell and returns its trimmed stdout.
func RunPAKCommand(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", command)
	} else {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", command)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg != "" {
			return "", fmt.Errorf("pak_command: %w: %s", err, msg)
		}
		return "", fmt.Errorf("pak_command: %w", err)
	}
	pak := strings.TrimSpace(out.String())
	if pak == "" {
		return "", errors.New("pak_command: printed nothing")
	}
	return pak, nil
}

// MaskPAK keeps a key's recognisable prefix and hides the secret part.
func MaskPAK(pak string) string {
	if pak == "" {
		return ""
	}
	if i := strings.LastIndexByte(pak, '_'); i > 0 && i < len(pak)-1 {
		return pak[:i+1] + "****"
	}
	if len(pak) > 8 {
		return pak[:4] + "****"
	}
	return "****"
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
