package config

import (
	"fmt"
	"strings"

	"github.com/knadh/koanf/v2"
)

// referenceSetting is a setting of the original Brokkr that brokkr spells differently or does
// not have. docs/configuration.md lists every one of them in its "Settings of the original
// Brokkr" table.
type referenceSetting struct {
	// name is the original spelling: a dotted key, which is also read in its BROKKR__ form,
	// or an environment variable outside the BROKKR__ namespace.
	name string
	// key is the brokkr key the value is applied to; "" when brokkr has no equivalent.
	key string
	// section is the top-level section of the program the setting belongs to, for a setting
	// without a key; the other program skips it silently.
	section string
	// note says, for a setting without an equivalent, why it is ignored.
	note string
}

// referenceSettings are the original Brokkr's settings whose spelling differs from brokkr's.
var referenceSettings = []referenceSetting{
	{name: "broker.agent_events_retention_days", key: "broker.agent_event_retention_days"},
	{name: "BROKKR_CONFIG_WATCHER_ENABLED", key: "broker.config_watch"},
	{
		name: "BROKKR_CONFIG_WATCHER_DEBOUNCE_SECONDS", section: "broker",
		note: fmt.Sprintf("the broker reloads once the configuration file has stayed unchanged for %v, which is not configurable", watchDebounce),
	},
}

// referenceNamed returns the reference setting spelled name: a dotted key or a variable name.
func referenceNamed(name string) (referenceSetting, bool) {
	for _, r := range referenceSettings {
		if r.name == name {
			return r, true
		}
	}
	return referenceSetting{}, false
}

// isKey reports whether the setting is spelled as a dotted key (read from files and from its
// BROKKR__ variable) rather than as a variable outside the BROKKR__ namespace.
func (r referenceSetting) isKey() bool { return strings.Contains(r.name, ".") }

// variable is the environment variable that carries the setting.
func (r referenceSetting) variable() string {
	if r.isKey() {
		return EnvName(r.name)
	}
	return r.name
}

// owner is the top-level section of the program the setting belongs to.
func (r referenceSetting) owner() string {
	s := r.key
	if s == "" {
		s = r.section
	}
	section, _, _ := strings.Cut(s, ".")
	return section
}

// unsupported is the warning for a setting brokkr does not have; where names the setting as
// the warning's reader would find it ("config file f: key \"x\"" or "environment variable X").
func (r referenceSetting) unsupported(where string) string {
	return fmt.Sprintf("%s is a setting of the original Brokkr that brokkr does not have; ignored: %s", where, r.note)
}

// applyFileAliases moves the value of every key of fk spelled the original Brokkr's way to
// brokkr's key, with a deprecation warning. When the file sets both spellings, brokkr's wins
// and the warning says the other one was ignored. Keys whose brokkr equivalent belongs to
// another program are left for the caller to skip.
func applyFileAliases(fk *koanf.Koanf, path string, schema schemaIndex) ([]string, error) {
	var warnings []string
	for _, name := range fk.Keys() {
		r, ok := referenceNamed(name)
		if !ok || r.key == "" {
			continue
		}
		if _, known := schema.byKey[r.key]; !known {
			continue
		}
		v := fk.Get(name)
		fk.Delete(name)
		if fk.Exists(r.key) {
			warnings = append(warnings, fmt.Sprintf("config file %s: key %q is deprecated and ignored because %q is also set; remove it", path, name, r.key))
			continue
		}
		if err := fk.Set(r.key, v); err != nil {
			return nil, fmt.Errorf("config: %s: %s: %w", path, name, err)
		}
		warnings = append(warnings, fmt.Sprintf("config file %s: key %q is deprecated; its value is applied to %q (rename the key)", path, name, r.key))
	}
	return warnings, nil
}

// envAlias resolves the BROKKR__ variable name, whose key is spelled the original Brokkr's way,
// to brokkr's key and the value to set. set tells which keys the environment sets under their
// own names. ok is false when name is not such a variable or its key belongs to another
// program; key is "" when the value is not applied (a warning or an error says why).
func envAlias(name, value string, set map[string]bool, schema schemaIndex) (key string, v any, warning string, ok bool, err error) {
	r, found := referenceNamed(envKey(name))
	if !found || !r.isKey() {
		return "", nil, "", false, nil
	}
	if r.key == "" {
		return "", nil, r.unsupported("environment variable " + name), true, nil
	}
	return resolveEnvAlias(r, name, value, set, schema)
}

// resolveEnvAlias applies the value of the variable name, which carries the reference setting
// r, to r's brokkr key, unless that key is set in the environment under its own name.
func resolveEnvAlias(r referenceSetting, name, value string, set map[string]bool, schema schemaIndex) (key string, v any, warning string, ok bool, err error) {
	l, known := schema.byKey[r.key]
	if !known {
		return "", nil, "", false, nil
	}
	own := EnvName(r.key)
	if set[r.key] {
		return "", nil, fmt.Sprintf("environment variable %s is deprecated and ignored because %s is also set; remove it", name, own), true, nil
	}
	v, err = l.parseValue(value)
	if err != nil {
		return "", nil, "", true, fmt.Errorf("%s (%s): %w", name, r.key, err)
	}
	return r.key, v, fmt.Sprintf("environment variable %s is deprecated; its value is applied to %s (rename it %s)", name, r.key, own), true, nil
}

// envKeysSet lists the keys the BROKKR__ variables of environ set under their own names.
func envKeysSet(environ []string) map[string]bool {
	set := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) {
			set[envKey(name)] = true
		}
	}
	return set
}

// loadReferenceEnv applies the original Brokkr's variables outside the BROKKR__ namespace,
// at the precedence of the environment. An empty variable counts as not set.
func loadReferenceEnv(k *koanf.Koanf, o LoadOptions, schema schemaIndex, isForeign func(string) bool) ([]string, error) {
	set := envKeysSet(o.environ())
	var warnings []string
	for _, r := range referenceSettings {
		if r.isKey() || isForeign(r.owner()) {
			continue
		}
		value := o.getenv(r.name)
		if strings.TrimSpace(value) == "" {
			continue
		}
		if r.key == "" {
			warnings = append(warnings, r.unsupported("environment variable "+r.name))
			continue
		}
		key, v, warning, ok, err := resolveEnvAlias(r, r.name, value, set, schema)
		if err != nil {
			return nil, fmt.Errorf("config: environment: %w", err)
		}
		if !ok {
			continue
		}
		warnings = append(warnings, warning)
		if key == "" {
			continue
		}
		if err := k.Set(key, v); err != nil {
			return nil, fmt.Errorf("config: environment: %s: %w", r.name, err)
		}
	}
	return warnings, nil
}
