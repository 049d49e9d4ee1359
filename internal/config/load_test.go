package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// testEnv is a deterministic base environment: the embedded data directory resolves to
// /srv/data/brokkr/postgres whatever user runs the tests.
func testEnv(extra ...string) []string {
	return append([]string{"XDG_DATA_HOME=/srv/data", "HOME=/home/tester", "PATH=/usr/bin"}, extra...)
}

// testDefaults is what LoadBroker yields for testEnv with nothing else set.
func testDefaults() Broker {
	getenv := LoadOptions{Environ: testEnv()}.getenv
	b := defaultBroker(getenv, os.Geteuid())
	b.resolve(getenv)
	return b
}

func ptr[T any](v T) *T { return &v }

func mustLoad(t *testing.T, o LoadOptions) (Broker, []string) {
	t.Helper()
	b, warnings, err := LoadBroker(o)
	if err != nil {
		t.Fatalf("LoadBroker: %v", err)
	}
	return b, warnings
}

func diff(t *testing.T, got, want Broker) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	gy, _ := got.YAML()
	wy, _ := want.YAML()
	t.Errorf("configuration mismatch\n--- got\n%s\n--- want\n%s", gy, wy)
}

func TestLoadDefaults(t *testing.T) {
	b, warnings := mustLoad(t, LoadOptions{Environ: testEnv()})
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	diff(t, b, testDefaults())

	checks := []struct {
		key  string
		got  any
		want any
	}{
		{"database.url", b.Database.URL, ""},
		{"database.data_dir", b.Database.DataDir, "/srv/data/brokkr/postgres"},
		{"database.max_connections", b.Database.MaxConnections, 20},
		{"log.level", b.Log.Level, "info"},
		{"log.format", b.Log.Format, "text"},
		{"broker.listen_addr", b.Broker.ListenAddr, "0.0.0.0:3000"},
		{"broker.admin_key_file", b.Broker.AdminKeyFile, "/srv/data/brokkr/admin-pak"},
		{"broker.max_body_bytes", b.Broker.MaxBodyBytes, int64(2097152)},
		{"broker.audit_cleanup_interval_seconds", b.Broker.AuditCleanupIntervalSeconds, 86400},
		{"broker.config_watch", b.Broker.ConfigWatch, false},
		{"cors.allowed_origins", b.CORS.AllowedOrigins, []string{"http://localhost:3001"}},
		{"cors.allowed_methods", b.CORS.AllowedMethods, []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"}},
		{"pak.prefix", b.PAK.Prefix, "brokkr"},
		{"telemetry.sampling_rate", b.Telemetry.SamplingRate, 0.1},
		{"telemetry.broker.service_name", b.Telemetry.Broker.ServiceName, "brokkr-broker"},
		{"telemetry.broker.enabled", b.Telemetry.Broker.Enabled, (*bool)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.key, c.got, c.want)
		}
	}
	if err := DefaultBroker().Validate(); err != nil {
		t.Errorf("DefaultBroker() is invalid: %v", err)
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		euid int
		want string
	}{
		{"xdg for user", map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/home/u"}, 1000, "/x/brokkr/postgres"},
		{"xdg for root", map[string]string{"XDG_DATA_HOME": "/x"}, 0, "/x/brokkr/postgres"},
		{"relative xdg ignored", map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/home/u"}, 1000, "/home/u/.local/share/brokkr/postgres"},
		{"root", map[string]string{"HOME": "/root"}, 0, "/var/lib/brokkr/postgres"},
		{"user home", map[string]string{"HOME": "/home/u"}, 1000, "/home/u/.local/share/brokkr/postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultDataDir(func(k string) string { return tt.env[k] }, tt.euid)
			if got != tt.want {
				t.Errorf("defaultDataDir = %q, want %q", got, tt.want)
			}
		})
	}
}

// fileExpectation is the configuration the three reference files describe.
func fileExpectation() Broker {
	want := testDefaults()
	want.Database.URL = "postgres://brokkr:s3cret@db.example.com:5433/brokkr?sslmode=require"
	want.Database.Schema = "tenant_a"
	want.Log = Log{Level: "debug", Format: "json"}
	want.Broker.PAKHash = PublicDefaultPAKHash
	want.Broker.DiagnosticCleanupIntervalSeconds = 600
	want.Broker.DiagnosticMaxAgeHours = 2
	want.Broker.WebhookDeliveryIntervalSeconds = 10
	want.Broker.WebhookDeliveryBatchSize = 25
	want.Broker.WebhookCleanupRetentionDays = 14
	want.Broker.AuthCacheTTLSeconds = 0
	want.Broker.MaxBodyBytes = 4 << 20
	want.CORS = CORS{
		AllowedOrigins: []string{"https://console.example.com", "http://localhost:3001"},
		AllowedMethods: []string{"GET", "POST"},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-Id"},
		MaxAgeSeconds:  600,
	}
	want.Telemetry = Telemetry{
		Enabled:      true,
		OTLPEndpoint: "http://collector:4317",
		ServiceName:  "brokkr",
		SamplingRate: 0.5,
		Broker:       TelemetryOverride{ServiceName: "edge-broker", SamplingRate: ptr(1.0)},
		Agent:        TelemetryOverride{Enabled: ptr(false), ServiceName: "brokkr-agent"},
	}
	return want
}

func TestLoadFile(t *testing.T) {
	for _, name := range []string{"reference.toml", "reference.yaml", "reference.json"} {
		t.Run(name, func(t *testing.T) {
			b, warnings := mustLoad(t, LoadOptions{File: filepath.Join("testdata", name), Environ: testEnv()})
			if len(warnings) != 0 {
				t.Errorf("unexpected warnings: %v", warnings)
			}
			diff(t, b, fileExpectation())
		})
	}
}

func TestLoadFileFromEnvironment(t *testing.T) {
	b, _ := mustLoad(t, LoadOptions{Environ: testEnv("BROKKR_CONFIG_FILE=testdata/reference.toml")})
	diff(t, b, fileExpectation())

	// An explicit --config wins over BROKKR_CONFIG_FILE.
	b, _ = mustLoad(t, LoadOptions{
		File:    "testdata/reference.yaml",
		Environ: testEnv("BROKKR_CONFIG_FILE=testdata/does-not-exist.toml"),
	})
	diff(t, b, fileExpectation())
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(t *testing.T) LoadOptions
		wantErr string
	}{
		{
			name:    "missing explicit file",
			opts:    func(*testing.T) LoadOptions { return LoadOptions{File: "testdata/nope.toml", Environ: testEnv()} },
			wantErr: "no such file",
		},
		{
			name: "missing file from BROKKR_CONFIG_FILE",
			opts: func(*testing.T) LoadOptions {
				return LoadOptions{Environ: testEnv("BROKKR_CONFIG_FILE=/nonexistent/brokkr.yaml")}
			},
			wantErr: "no such file",
		},
		{
			name: "unsupported extension",
			opts: func(t *testing.T) LoadOptions {
				return LoadOptions{File: writeFile(t, "brokkr.ini", "[log]\n"), Environ: testEnv()}
			},
			wantErr: "unsupported extension",
		},
		{
			name: "malformed toml",
			opts: func(t *testing.T) LoadOptions {
				return LoadOptions{File: writeFile(t, "b.toml", "[log\nlevel = 1"), Environ: testEnv()}
			},
			wantErr: "b.toml",
		},
		{
			name: "wrong type in file",
			opts: func(t *testing.T) LoadOptions {
				return LoadOptions{File: writeFile(t, "b.yaml", "database:\n  max_connections: many\n"), Environ: testEnv()}
			},
			wantErr: "max_connections",
		},
		{
			name: "fraction for an integer key",
			opts: func(t *testing.T) LoadOptions {
				return LoadOptions{File: writeFile(t, "b.toml", "[broker]\naudit_batch_size = 2.5\n"), Environ: testEnv()}
			},
			wantErr: "'broker.audit_batch_size' 2.5 is not a whole number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadBroker(tt.opts(t))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFileWholeFloatForInteger(t *testing.T) {
	b, _ := mustLoad(t, LoadOptions{File: writeFile(t, "b.json", `{"broker": {"audit_batch_size": 250.0}}`), Environ: testEnv()})
	if b.Broker.AuditBatchSize != 250 {
		t.Errorf("audit_batch_size = %d, want 250", b.Broker.AuditBatchSize)
	}
}

func TestFileUnknownKeysAndNulls(t *testing.T) {
	p := writeFile(t, "b.yaml", `
log:
  level: warn
  colour: true
database:
  max_connections: ~
bogus:
  x: 1
telemetry:
  broker: {}
agent:
  pak: secret
`)
	b, warnings := mustLoad(t, LoadOptions{File: p, Environ: testEnv()})
	if b.Log.Level != "warn" {
		t.Errorf("log.level = %q", b.Log.Level)
	}
	if b.Database.MaxConnections != 20 {
		t.Errorf("a null value should keep the default, got max_connections = %d", b.Database.MaxConnections)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], `"bogus.x"`) || !strings.Contains(warnings[1], `"log.colour"`) {
		t.Errorf("warnings = %q, want one for bogus.x and one for log.colour", warnings)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	b, warnings := mustLoad(t, LoadOptions{
		File: "testdata/reference.toml",
		Environ: testEnv(
			"BROKKR__LOG__LEVEL=warn",
			"BROKKR__BROKER__PAK_HASH="+strings.Repeat("ab", 32),
			"BROKKR__BROKER__WEBHOOK_DELIVERY_BATCH_SIZE=7",
			"BROKKR__BROKER__MAX_BODY_BYTES=1048576",
			"BROKKR__BROKER__CONFIG_WATCH=true",
			"BROKKR__DATABASE__URL=postgresql://other@db2/brokkr",
			"BROKKR__TELEMETRY__SAMPLING_RATE=0.25",
			"BROKKR__TELEMETRY__BROKER__ENABLED=false",
			"BROKKR__TELEMETRY__AGENT__ENABLED=",
		),
	})
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	want := fileExpectation()
	want.Log.Level = "warn"
	want.Broker.PAKHash = strings.Repeat("ab", 32)
	want.Broker.WebhookDeliveryBatchSize = 7
	want.Broker.MaxBodyBytes = 1 << 20
	want.Broker.ConfigWatch = true
	want.Database.URL = "postgresql://other@db2/brokkr"
	want.Telemetry.SamplingRate = 0.25
	want.Telemetry.Broker.Enabled = ptr(false)
	want.Telemetry.Agent.Enabled = nil // an empty value unsets an override
	diff(t, b, want)
}

func TestEnvLists(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{"comma", "https://a.example.com,https://b.example.com", []string{"https://a.example.com", "https://b.example.com"}},
		{"comma with spaces", " https://a.example.com , https://b.example.com ,", []string{"https://a.example.com", "https://b.example.com"}},
		{"json", `["https://a.example.com","https://b.example.com"]`, []string{"https://a.example.com", "https://b.example.com"}},
		{"json with spaces", ` [ "*" ] `, []string{"*"}},
		{"single", "*", []string{"*"}},
		{"empty", "", []string{}},
		{"empty json", "[]", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := mustLoad(t, LoadOptions{Environ: testEnv("BROKKR__CORS__ALLOWED_ORIGINS=" + tt.value)})
			if !slices.Equal(b.CORS.AllowedOrigins, tt.want) || b.CORS.AllowedOrigins == nil {
				t.Errorf("cors.allowed_origins = %#v, want %#v", b.CORS.AllowedOrigins, tt.want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		env     string
		wantErr string
	}{
		{"BROKKR__DATABASE__MAX_CONNECTIONS=lots", "BROKKR__DATABASE__MAX_CONNECTIONS (database.max_connections): \"lots\" is not an integer"},
		{"BROKKR__BROKER__CONFIG_WATCH=sometimes", "is not a boolean"},
		{"BROKKR__TELEMETRY__SAMPLING_RATE=half", "is not a number"},
		{`BROKKR__CORS__ALLOWED_ORIGINS=["a",`, "is not a JSON array"},
		{"BROKKR__BROKER__MAX_BODY_BYTES=99999999999999999999", "is not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, _, err := LoadBroker(LoadOptions{Environ: testEnv(tt.env)})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestUnknownEnvWarnings(t *testing.T) {
	b, warnings, err := LoadBroker(LoadOptions{Environ: testEnv(
		"BROKKR__BROKER__NO_SUCH_KEY=1",
		"BROKKR__LOGS__LEVEL=debug",
		"BROKKR__CORS=x",
		"BROKKR__AGENT__PAK=brokkr_BRx_y", // belongs to the agent: silently skipped
		"BROKKR_CONFIG=ignored",           // not the BROKKR__ prefix
		"BROKKR__LOG__LEVEL=error",
	)})
	if err != nil {
		t.Fatalf("LoadBroker: %v", err)
	}
	if b.Log.Level != "error" {
		t.Errorf("known keys must still load; log.level = %q", b.Log.Level)
	}
	want := []string{"BROKKR__BROKER__NO_SUCH_KEY", "BROKKR__CORS", "BROKKR__LOGS__LEVEL"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings = %q, want %d", warnings, len(want))
	}
	for i, w := range want {
		if !strings.Contains(warnings[i], w+" does not match any configuration key") {
			t.Errorf("warning %d = %q, want it about %s", i, warnings[i], w)
		}
	}
}

func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("brokkr-broker", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("listen", "0.0.0.0:3000", "")
	fs.String("data-dir", "", "")
	fs.String("database-url", "", "")
	fs.String("log-level", "info", "")
	fs.String("log-format", "text", "")
	fs.StringSlice("cors-origin", nil, "")
	fs.Int("max-connections", 20, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestFlagsOverrideEnv(t *testing.T) {
	keys := BrokerFlagKeys()
	keys["cors-origin"] = "cors.allowed_origins"
	keys["max-connections"] = "database.max_connections"

	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, b Broker)
	}{
		{
			name: "unchanged flags keep env and file values",
			args: nil,
			check: func(t *testing.T, b Broker) {
				if b.Broker.ListenAddr != "127.0.0.1:4000" || b.Log.Level != "warn" || b.Database.MaxConnections != 50 {
					t.Errorf("listen=%q level=%q max=%d; flag defaults must not override", b.Broker.ListenAddr, b.Log.Level, b.Database.MaxConnections)
				}
				if b.Log.Format != "json" {
					t.Errorf("log.format from file = %q", b.Log.Format)
				}
			},
		},
		{
			name: "changed flags win",
			args: []string{"--listen", ":8080", "--log-level=trace", "--data-dir", "/tmp/pg", "--max-connections", "5", "--cors-origin", "https://a.example.com,https://b.example.com"},
			check: func(t *testing.T, b Broker) {
				if b.Broker.ListenAddr != ":8080" {
					t.Errorf("listen = %q", b.Broker.ListenAddr)
				}
				if b.Log.Level != "debug" {
					t.Errorf("log.level = %q, want trace read as debug", b.Log.Level)
				}
				if b.Database.DataDir != "/tmp/pg" || b.Broker.AdminKeyFile != "/tmp/admin-pak" {
					t.Errorf("data_dir = %q admin_key_file = %q", b.Database.DataDir, b.Broker.AdminKeyFile)
				}
				if b.Database.MaxConnections != 5 {
					t.Errorf("max_connections = %d", b.Database.MaxConnections)
				}
				if !slices.Equal(b.CORS.AllowedOrigins, []string{"https://a.example.com", "https://b.example.com"}) {
					t.Errorf("origins = %q", b.CORS.AllowedOrigins)
				}
				if b.Log.Format != "json" {
					t.Errorf("unset --log-format changed log.format to %q", b.Log.Format)
				}
			},
		},
		{
			name: "flag set to its default value still wins",
			args: []string{"--log-level", "info"},
			check: func(t *testing.T, b Broker) {
				if b.Log.Level != "info" {
					t.Errorf("log.level = %q, want info", b.Log.Level)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := mustLoad(t, LoadOptions{
				File:     "testdata/reference.toml",
				Flags:    newFlags(t, tt.args...),
				FlagKeys: keys,
				Environ: testEnv(
					"BROKKR__BROKER__LISTEN_ADDR=127.0.0.1:4000",
					"BROKKR__LOG__LEVEL=warn",
					"BROKKR__DATABASE__MAX_CONNECTIONS=50",
				),
			})
			tt.check(t, b)
		})
	}
}

func TestFlagErrors(t *testing.T) {
	_, _, err := LoadBroker(LoadOptions{
		Flags:    newFlags(t),
		FlagKeys: map[string]string{"listen": "broker.listen"},
		Environ:  testEnv(),
	})
	if err == nil || !strings.Contains(err.Error(), `flag --listen maps to unknown key "broker.listen"`) {
		t.Errorf("err = %v", err)
	}

	_, _, err = LoadBroker(LoadOptions{
		Flags:    newFlags(t, "--log-format", "x"),
		FlagKeys: map[string]string{"log-format": "database.embedded_port"},
		Environ:  testEnv(),
	})
	if err == nil || !strings.Contains(err.Error(), `--log-format (database.embedded_port): "x" is not an integer`) {
		t.Errorf("err = %v", err)
	}
}

func TestNormalisation(t *testing.T) {
	b, _ := mustLoad(t, LoadOptions{Environ: testEnv(
		"BROKKR__BROKER__PAK_HASH= "+strings.Repeat("AB", 32)+" ",
		"BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY="+strings.Repeat("Cd", 32),
		"BROKKR__LOG__LEVEL=WARNING",
		"BROKKR__LOG__FORMAT=JSON",
		"BROKKR__CORS__ALLOWED_METHODS=get, patch",
		"BROKKR__PAK__RNG=OsRng",
		"BROKKR__DATABASE__DATA_DIR=~/pg",
	)})
	checks := map[string][2]string{
		"broker.pak_hash":               {b.Broker.PAKHash, strings.Repeat("ab", 32)},
		"broker.webhook_encryption_key": {b.Broker.WebhookEncryptionKey, strings.Repeat("cd", 32)},
		"log.level":                     {b.Log.Level, "warn"},
		"log.format":                    {b.Log.Format, "json"},
		"cors.allowed_methods":          {strings.Join(b.CORS.AllowedMethods, ","), "GET,PATCH"},
		"pak.rng":                       {b.PAK.RNG, "osrng"},
		"database.data_dir":             {b.Database.DataDir, "/home/tester/pg"},
		"broker.admin_key_file":         {b.Broker.AdminKeyFile, "/home/tester/admin-pak"},
	}
	for key, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", key, c[0], c[1])
		}
	}
}

func TestLoadReturnsConfigWithValidationError(t *testing.T) {
	b, _, err := LoadBroker(LoadOptions{Environ: testEnv("BROKKR__BROKER__PAK_HASH=abc", "BROKKR__LOG__FORMAT=xml")})
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"broker.pak_hash: must be 64 hexadecimal characters", "log.format: must be text or json"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if b.Broker.PAKHash != "abc" {
		t.Errorf("loaded configuration not returned with the validation error")
	}
}

func TestRoundTrip(t *testing.T) {
	src := fileExpectation()
	src.Broker.WebhookEncryptionKey = strings.Repeat("0f", 32)
	src.Broker.ConfigWatch = true
	src.Database.Schema = "brokkr"
	src.Telemetry.Broker.Enabled = ptr(true)
	src.Telemetry.Broker.OTLPEndpoint = "https://otel.example.com:4318"
	src.CORS.AllowedHeaders = []string{"Authorization"}

	t.Run("environ", func(t *testing.T) {
		b, warnings := mustLoad(t, LoadOptions{Environ: append(testEnv(), src.Environ()...)})
		if len(warnings) != 0 {
			t.Errorf("warnings: %v", warnings)
		}
		diff(t, b, src)
	})
	t.Run("yaml", func(t *testing.T) {
		y, err := src.YAML()
		if err != nil {
			t.Fatal(err)
		}
		b, warnings := mustLoad(t, LoadOptions{File: writeFile(t, "effective.yaml", string(y)), Environ: testEnv()})
		if len(warnings) != 0 {
			t.Errorf("warnings: %v", warnings)
		}
		diff(t, b, src)
	})
}
