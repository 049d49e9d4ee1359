package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable that sets a configuration key:
// BROKKR__SECTION__KEY sets section.key.
const EnvPrefix = "BROKKR__"

// ConfigFileEnv names the environment variable that points at the configuration file when
// no file is given on the command line.
const ConfigFileEnv = "BROKKR_CONFIG_FILE"

// LoadOptions says where configuration comes from besides the built-in defaults.
type LoadOptions struct {
	// File is the configuration file given on the command line (--config). When empty,
	// the BROKKR_CONFIG_FILE environment variable is used; when that is empty too, no file
	// is read. A named file that does not exist is an error.
	File string
	// Flags, when not nil, override everything else, but only flags the user set
	// (pflag.Flag.Changed). Flag names map to configuration keys through FlagKeys.
	Flags *pflag.FlagSet
	// FlagKeys maps a flag name to the configuration key it sets, for example
	// "listen" → "broker.listen_addr". Nil means the component's standard mapping
	// (BrokerFlagKeys for the broker). Flags not in the map are ignored.
	FlagKeys map[string]string
	// Environ is the process environment as "KEY=value" pairs; nil means os.Environ().
	Environ []string
}

// environ returns the environment the options describe.
func (o LoadOptions) environ() []string {
	if o.Environ == nil {
		return os.Environ()
	}
	return o.Environ
}

// getenv looks a variable up in the options' environment; the last definition wins.
func (o LoadOptions) getenv(name string) string {
	env := o.environ()
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

// ConfigFile returns the configuration file these options select: File, else the value of
// BROKKR_CONFIG_FILE, else "" (no file).
func (o LoadOptions) ConfigFile() string {
	if o.File != "" {
		return o.File
	}
	return o.getenv(ConfigFileEnv)
}

// parserFor picks the file parser from the file name extension. JSON is read by the YAML
// parser, since YAML is a superset of JSON.
func parserFor(path string) (koanf.Parser, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return toml.Parser(), nil
	case ".yaml", ".yml", ".json":
		return yaml.Parser(), nil
	default:
		return nil, fmt.Errorf("config file %s: unsupported extension (use .toml, .yaml, .yml or .json)", path)
	}
}

// mapProvider is a koanf.Provider over an in-memory flat map (dotted keys).
type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("map provider does not support ReadBytes")
}

func (m mapProvider) Read() (map[string]any, error) {
	return maps.Unflatten(m, "."), nil
}

// loadSpec describes one component's configuration for the shared loader.
type loadSpec struct {
	// defaults is the struct value holding the built-in defaults.
	defaults any
	// flagKeys maps flag names to configuration keys.
	flagKeys map[string]string
	// foreign lists top-level sections that belong to other components sharing the same
	// file and environment; their keys are skipped without a warning.
	foreign []string
}

// load fills target (a pointer to a struct with `koanf` tags) from, in increasing order of
// precedence: the defaults, the configuration file, BROKKR__ environment variables and the
// changed command-line flags. Keys that match nothing in the file or environment are
// reported as warnings.
func load(o LoadOptions, spec loadSpec, target any) ([]string, error) {
	tv := reflect.ValueOf(target)
	if tv.Kind() != reflect.Pointer || tv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: load target must be a pointer to a struct, got %T", target)
	}
	schema := newSchemaIndex(tv.Elem().Type())
	isForeign := func(key string) bool {
		section, _, _ := strings.Cut(key, ".")
		return slices.Contains(spec.foreign, section)
	}

	k := koanf.New(".")
	if err := k.Load(mapProvider(flatten(spec.defaults)), nil); err != nil {
		return nil, fmt.Errorf("config: load defaults: %w", err)
	}

	var warnings []string

	if path := o.ConfigFile(); path != "" {
		w, err := loadFile(k, path, schema, isForeign)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}

	w, err := loadEnv(k, o.environ(), schema, isForeign)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	w, err = loadReferenceEnv(k, o, schema, isForeign)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)

	if o.Flags != nil {
		if err := loadFlags(k, o.Flags, spec.flagKeys, schema); err != nil {
			return nil, err
		}
	}

	tv.Elem().SetZero()
	dc := &mapstructure.DecoderConfig{
		TagName:    "koanf",
		Result:     target,
		DecodeHook: wholeNumberHook,
	}
	if err := k.UnmarshalWithConf("", target, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("config: decode: %w", err)
	}
	return warnings, nil
}

// wholeNumberHook lets a file give an integer key a float value only when the value is a
// whole number (JSON and some YAML writers render 60 as 60.0); 2.5 is an error rather than
// silently truncated.
func wholeNumberHook(from, to reflect.Type, data any) (any, error) {
	if (from.Kind() != reflect.Float64 && from.Kind() != reflect.Float32) ||
		(to.Kind() != reflect.Int && to.Kind() != reflect.Int64) {
		return data, nil
	}
	f := reflect.ValueOf(data).Float()
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, fmt.Errorf("%v is not a whole number", f)
	}
	return int64(f), nil
}

// loadFile merges the configuration file at path into k. Keys the schema does not know are
// dropped with a warning; an explicit null for a key keeps its default.
func loadFile(k *koanf.Koanf, path string, schema schemaIndex, isForeign func(string) bool) ([]string, error) {
	parser, err := parserFor(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	fk := koanf.New(".")
	if err := fk.Load(file.Provider(path), parser); err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	warnings, err := applyFileAliases(fk, path, schema)
	if err != nil {
		return nil, err
	}
	for _, key := range fk.Keys() {
		l, known := schema.byKey[key]
		switch {
		case known:
			if fk.Get(key) == nil && l.typ.Kind() != reflect.Pointer {
				fk.Delete(key)
			}
		case schema.sections[key]:
			// An empty table such as [telemetry.broker]: nothing to set.
			fk.Delete(key)
		case isForeign(key):
			fk.Delete(key)
		default:
			where := fmt.Sprintf("config file %s: key %q", path, key)
			if r, ok := referenceNamed(key); ok && r.key == "" {
				warnings = append(warnings, r.unsupported(where))
			} else {
				warnings = append(warnings, fmt.Sprintf("config file %s: unknown key %q ignored", path, key))
			}
			fk.Delete(key)
		}
	}
	if err := k.Merge(fk); err != nil {
		return nil, fmt.Errorf("config: merge %s: %w", path, err)
	}
	return warnings, nil
}

// envKey maps BROKKR__SECTION__SOME_KEY to section.some_key.
func envKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "__", ".")
}

// EnvName is the environment variable that sets the dotted configuration key, for example
// EnvName("broker.pak_hash") == "BROKKR__BROKER__PAK_HASH".
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// loadEnv merges BROKKR__ variables into k, converting each value to its key's type.
func loadEnv(k *koanf.Koanf, environ []string, schema schemaIndex, isForeign func(string) bool) ([]string, error) {
	var (
		warnings []string
		errs     []error
	)
	set := envKeysSet(environ)
	p := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key := envKey(name)
			l, ok := schema.byKey[key]
			if !ok {
				if isForeign(key) {
					return "", nil
				}
				target, v, warning, isAlias, err := envAlias(name, value, set, schema)
				switch {
				case err != nil:
					errs = append(errs, err)
				case isAlias:
					warnings = append(warnings, warning)
					if target != "" {
						return target, v
					}
				default:
					warnings = append(warnings, fmt.Sprintf("environment variable %s does not match any configuration key; ignored", name))
				}
				return "", nil
			}
			v, err := l.parseValue(value)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %w", name, key, err))
				return "", nil
			}
			return key, v
		},
	})
	if err := k.Load(p, nil); err != nil {
		return nil, fmt.Errorf("config: load environment: %w", err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: environment: %w", errors.Join(errs...))
	}
	slices.Sort(warnings)
	return warnings, nil
}

// loadFlags merges the changed flags that have a key in flagKeys into k.
func loadFlags(k *koanf.Koanf, fs *pflag.FlagSet, flagKeys map[string]string, schema schemaIndex) error {
	for flag, key := range flagKeys {
		if _, ok := schema.byKey[key]; !ok {
			return fmt.Errorf("config: flag --%s maps to unknown key %q", flag, key)
		}
	}
	var errs []error
	p := posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		key, ok := flagKeys[f.Name]
		if !ok || !f.Changed {
			return "", nil
		}
		l := schema.byKey[key]
		if l.isList() {
			switch f.Value.Type() {
			case "stringSlice", "stringArray":
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					return key, append([]string{}, sv.GetSlice()...)
				}
			}
		}
		v, err := l.parseValue(f.Value.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s (%s): %w", f.Name, key, err))
			return "", nil
		}
		return key, v
	})
	if err := k.Load(p, nil); err != nil {
		return fmt.Errorf("config: load flags: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: flags: %w", errors.Join(errs...))
	}
	return nil
}
