package config

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/brokkr/brokkr/internal/logging"
)

// Mask replaces secret values in redacted output.
const Mask = "********"

// Redacted returns a copy with secrets masked: broker.pak_hash and
// broker.webhook_encryption_key become "********", and URLs (database.url, OTLP endpoints)
// keep everything but their password. Empty values stay empty.
func (b Broker) Redacted() Broker {
	redact(&b)
	return b
}

// redact masks, in place, every leaf of the struct pointed to by ptr that carries a
// `secret` tag.
func redact(ptr any) {
	v := reflect.ValueOf(ptr).Elem()
	for _, l := range schemaOf(v.Type()) {
		f := v.FieldByIndex(l.index)
		if f.Kind() != reflect.String || f.String() == "" {
			continue
		}
		switch l.secret {
		case "true":
			f.SetString(Mask)
		case "url":
			f.SetString(maskURLPassword(f.String()))
		}
	}
}

// maskURLPassword masks the password of a URL's user information and the value of any
// query parameter whose name contains "password". A PostgreSQL keyword/value connection
// string ("host=db password=secret") keeps everything but the values of keywords containing
// "password" (see maskKeywordValuePasswords). A value that parses as neither is masked
// entirely, since there is no telling where a secret in it would be.
func maskURLPassword(s string) string {
	if isKeywordValueDSN(s) {
		return maskKeywordValuePasswords(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Mask
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, part := range parts {
			name, _, hasValue := strings.Cut(part, "=")
			if un, err := url.QueryUnescape(name); err == nil {
				name = un
			}
			if hasValue && strings.Contains(strings.ToLower(name), "password") {
				parts[i] = part[:strings.IndexByte(part, '=')+1] + Mask
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if u.User == nil {
		return u.String()
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return u.String()
	}
	// url.UserPassword would percent-encode the mask, so splice it in by hand.
	user := url.User(u.User.Username()).String()
	u.User = nil
	rest := strings.TrimPrefix(u.String(), u.Scheme+"://")
	return u.Scheme + "://" + user + ":" + Mask + "@" + rest
}

// YAML renders the configuration as YAML with the same keys a configuration file uses, in
// declaration order. Unset telemetry overrides are left out. Secrets are rendered as they
// are; call Redacted first when the output is meant for display.
func (b Broker) YAML() ([]byte, error) {
	return renderYAML(&b)
}

func renderYAML(ptr any) ([]byte, error) {
	v := reflect.ValueOf(ptr).Elem()
	root := &yaml.Node{Kind: yaml.MappingNode}
	sections := map[string]*yaml.Node{"": root}
	for _, l := range schemaOf(v.Type()) {
		val, ok := plainValue(v.FieldByIndex(l.index))
		if !ok {
			continue
		}
		parts := strings.Split(l.key, ".")
		parent := root
		for i := 1; i < len(parts); i++ {
			path := strings.Join(parts[:i], ".")
			n, exists := sections[path]
			if !exists {
				n = &yaml.Node{Kind: yaml.MappingNode}
				sections[path] = n
				parent.Content = append(parent.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[i-1]}, n)
			}
			parent = n
		}
		var vn yaml.Node
		if err := vn.Encode(val); err != nil {
			return nil, fmt.Errorf("config: render %s: %w", l.key, err)
		}
		parent.Content = append(parent.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[len(parts)-1]}, &vn)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("config: render yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: render yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// Environ returns BROKKR__SECTION__KEY=value pairs that reproduce this configuration when
// loaded with no file (lists as JSON arrays; unset telemetry overrides left out). It is
// meant for starting subprocesses and tests; the pairs include secrets.
func (b Broker) Environ() []string {
	return environOf(&b)
}

func environOf(ptr any) []string {
	v := reflect.ValueOf(ptr).Elem()
	var out []string
	for _, l := range schemaOf(v.Type()) {
		f := v.FieldByIndex(l.index)
		if f.Kind() == reflect.Pointer && f.IsNil() {
			continue
		}
		out = append(out, EnvName(l.key)+"="+formatValue(f, jsonList))
	}
	return out
}

// Logger builds the process logger from the log section; the LevelVar lets a
// configuration reload change the level of the running logger.
func Logger(l Log, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	return logging.New(l.Level, l.Format, w)
}

// isKeywordValueDSN reports whether s has the form of a libpq keyword/value connection string:
// it starts (after spaces) with a keyword followed by optional spaces and "=". A URL never
// does: its scheme ends with ":".
func isKeywordValueDSN(s string) bool {
	i := skipDSNSpace(s, 0)
	start := i
	for i < len(s) && isDSNKeywordByte(s[i]) {
		i++
	}
	if i == start {
		return false
	}
	i = skipDSNSpace(s, i)
	return i < len(s) && s[i] == '='
}

// maskKeywordValuePasswords masks, in a libpq keyword/value connection string, the value of
// every keyword whose name contains "password" (password, sslpassword, in any case), and keeps
// the rest of the string as it is. Values follow libpq's rules: a value is either a run of
// non-space characters or single-quoted, and a backslash escapes the next character in both
// (\' and \\ inside quotes). A string that breaks these rules (an unterminated quote, a
// keyword without "=") is masked entirely.
func maskKeywordValuePasswords(s string) string {
	var b strings.Builder
	i := 0
	for {
		j := skipDSNSpace(s, i)
		b.WriteString(s[i:j])
		i = j
		if i == len(s) {
			return b.String()
		}
		start := i
		for i < len(s) && isDSNKeywordByte(s[i]) {
			i++
		}
		keyword := s[start:i]
		i = skipDSNSpace(s, i)
		if keyword == "" || i == len(s) || s[i] != '=' {
			return Mask
		}
		i = skipDSNSpace(s, i+1)
		b.WriteString(s[start:i]) // keyword, "=" and the spaces around it
		end, ok := dsnValueEnd(s, i)
		if !ok {
			return Mask
		}
		if strings.Contains(strings.ToLower(keyword), "password") {
			b.WriteString(Mask)
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
}

// dsnValueEnd returns the end of the value starting at i (its closing quote included).
func dsnValueEnd(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '\'' {
		for i++; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return i + 1, true
			}
		}
		return 0, false // unterminated quote
	}
	for i < len(s) && !isDSNSpace(s[i]) {
		if s[i] == '\\' {
			i++
		}
		i++
	}
	return min(i, len(s)), true
}

func skipDSNSpace(s string, i int) int {
	for i < len(s) && isDSNSpace(s[i]) {
		i++
	}
	return i
}

func isDSNSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDSNKeywordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
