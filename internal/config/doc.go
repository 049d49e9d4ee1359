// Package config loads, validates and renders the configuration of the brokkr programs.
//
// Values come from four layers, each overriding the previous one:
//
//  1. built-in defaults (DefaultBroker);
//  2. a configuration file named by --config or BROKKR_CONFIG_FILE (.toml, .yaml, .yml or
//     .json);
//  3. environment variables BROKKR__SECTION__KEY (for example BROKKR__BROKER__PAK_HASH sets
//     broker.pak_hash; list values are comma-separated or a JSON array);
//  4. command-line flags the user actually set.
//
// Keys that match nothing are reported as warnings rather than errors. The few settings the
// original Brokkr spells differently are applied to brokkr's keys with a deprecation warning
// (see referenceSettings); brokkr's spelling wins when one source sets both. Validate reports
// every problem at once, each naming its key. Redacted masks secrets before a
// configuration is shown or logged, and DynamicChanges tells a reload which of the
// hot-reloadable keys changed.
package config
