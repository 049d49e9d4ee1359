package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenDefaults is the default configuration for a fixed environment, so the golden file
// does not depend on who runs the tests.
func goldenDefaults() Broker {
	getenv := func(k string) string {
		return map[string]string{"XDG_DATA_HOME": "/var/lib/example"}[k]
	}
	b := defaultBroker(getenv, 1000)
	b.resolve(getenv)
	return b
}

func TestYAMLGolden(t *testing.T) {
	got, err := goldenDefaults().YAML()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "defaults.golden.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -run TestYAMLGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("YAML() differs from %s (rerun with -update if intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestYAMLKeysMatchSchema(t *testing.T) {
	b := goldenDefaults()
	b.Telemetry.Agent.Enabled = ptr(true)
	b.Telemetry.Agent.SamplingRate = ptr(0.0)
	y, err := b.YAML()
	if err != nil {
		t.Fatal(err)
	}
	// Load the rendering back and check that every key came from the schema: the loader
	// would warn about anything else.
	_, warnings := mustLoad(t, LoadOptions{File: writeFile(t, "c.yaml", string(y)), Environ: testEnv()})
	if len(warnings) != 0 {
		t.Errorf("rendered YAML has unknown keys: %v", warnings)
	}
	for _, key := range []string{"broker.pak_hash", "telemetry.agent.sampling_rate", "cors.allowed_origins"} {
		last := key[strings.LastIndexByte(key, '.')+1:]
		if !strings.Contains(string(y), "\n"+strings.Repeat("  ", strings.Count(key, "."))+last+":") {
			t.Errorf("rendered YAML lacks %s:\n%s", key, y)
		}
	}
}

func TestRedacted(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"password", "postgres://brokkr:s3cret@db:5432/brokkr?sslmode=require", "postgres://brokkr:********@db:5432/brokkr?sslmode=require"},
		{"escaped password", "postgresql://app%40corp:p%40ss%2Fw@db/brokkr", "postgresql://app%40corp:********@db/brokkr"},
		{"no password", "postgres://brokkr@db/brokkr", "postgres://brokkr@db/brokkr"},
		{"query password", "postgres://db/brokkr?user=u&password=hunter2&sslmode=disable", "postgres://db/brokkr?user=u&password=********&sslmode=disable"},
		{"empty", "", ""},
		{"unparsable", "postgres://u:p@h:port/d", Mask},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testDefaults()
			b.Database.URL = tt.url
			b.Telemetry.Broker.OTLPEndpoint = "https://user:token@otel.example.com"
			b.Broker.PAKHash = strings.Repeat("a", 64)
			b.Broker.WebhookEncryptionKey = strings.Repeat("b", 64)
			r := b.Redacted()
			if r.Database.URL != tt.want {
				t.Errorf("database.url = %q, want %q", r.Database.URL, tt.want)
			}
			if r.Broker.PAKHash != Mask || r.Broker.WebhookEncryptionKey != Mask {
				t.Errorf("secrets not masked: %q %q", r.Broker.PAKHash, r.Broker.WebhookEncryptionKey)
			}
			if r.Telemetry.Broker.OTLPEndpoint != "https://user:********@otel.example.com" {
				t.Errorf("otlp endpoint = %q", r.Telemetry.Broker.OTLPEndpoint)
			}
			if b.Database.URL != tt.url || b.Broker.PAKHash != strings.Repeat("a", 64) {
				t.Error("Redacted modified its receiver")
			}
			if r.Broker.ListenAddr != b.Broker.ListenAddr || !slices.Equal(r.CORS.AllowedOrigins, b.CORS.AllowedOrigins) {
				t.Error("Redacted changed a value that is not secret")
			}
		})
	}

	empty := testDefaults().Redacted()
	if empty.Broker.PAKHash != "" || empty.Broker.WebhookEncryptionKey != "" || empty.Database.URL != "" {
		t.Errorf("empty secrets must stay empty: %+v", empty.Broker)
	}
}

// TestRedactedKeywordValueDSN: a PostgreSQL keyword/value connection string keeps everything
// but its passwords, whatever libpq quoting they use.
func TestRedactedKeywordValueDSN(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{"plain", "host=db password=secret user=x", "host=db password=******** user=x"},
		{"first", "password=secret host=db", "password=******** host=db"},
		{"last", "host=db user=x password=secret", "host=db user=x password=********"},
		{"quoted with spaces", "host=db password='s3cret with spaces' user=x", "host=db password=******** user=x"},
		{"escaped quote", `host=db password='it\'s \\ secret' user=x`, "host=db password=******** user=x"},
		{"escaped space unquoted", `password=a\ secret host=db`, "password=******** host=db"},
		{"spaces around =", "host = db  password =  secret\tuser=x", "host = db  password =  ********\tuser=x"},
		{"empty quoted", "host=db password='' user=x", "host=db password=******** user=x"},
		{"sslpassword", "host=db sslkey=/k.pem sslpassword=keypass", "host=db sslkey=/k.pem sslpassword=********"},
		{"upper case", "host=db PASSWORD=secret", "host=db PASSWORD=********"},
		{"leading spaces", "  host=db password=secret", "  host=db password=********"},
		{"no password", "host=db user=x dbname='my db'", "host=db user=x dbname='my db'"},
		{"quoted value with password inside", "options='-c password=x' host=db", "options='-c password=x' host=db"},
		{"unterminated quote", "host=db password='secret user=x", Mask},
		{"keyword without =", "host=db password", Mask},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testDefaults()
			b.Database.URL = tt.dsn
			if got := b.Redacted().Database.URL; got != tt.want {
				t.Errorf("database.url = %q, want %q", got, tt.want)
			}
		})
	}

	b := testDefaults()
	b.Database.URL = `host=db password='top secret\'pw' user=brokkr`
	y, err := b.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), "top") || strings.Contains(string(y), "secret") || !strings.Contains(string(y), "user=brokkr") {
		t.Errorf("redacted YAML of a keyword/value DSN:\n%s", y)
	}
}

func TestRedactedYAMLHasNoSecrets(t *testing.T) {
	b := testDefaults()
	b.Database.URL = "postgres://brokkr:topsecretpw@db/brokkr"
	b.Broker.PAKHash = strings.Repeat("c", 64)
	y, err := b.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"topsecretpw", strings.Repeat("c", 64)} {
		if strings.Contains(string(y), secret) {
			t.Errorf("redacted YAML contains %q", secret)
		}
	}
	if !strings.Contains(string(y), `pak_hash: '********'`) {
		t.Errorf("redacted YAML lacks the masked hash:\n%s", y)
	}
}

func TestEnviron(t *testing.T) {
	b := testDefaults()
	b.CORS.AllowedOrigins = []string{"https://a.example.com", "https://b.example.com"}
	b.Telemetry.Agent.Enabled = ptr(false)
	env := b.Environ()
	for _, want := range []string{
		"BROKKR__BROKER__LISTEN_ADDR=0.0.0.0:3000",
		"BROKKR__BROKER__PAK_HASH=",
		"BROKKR__BROKER__MAX_BODY_BYTES=2097152",
		`BROKKR__CORS__ALLOWED_ORIGINS=["https://a.example.com","https://b.example.com"]`,
		"BROKKR__TELEMETRY__SAMPLING_RATE=0.1",
		"BROKKR__TELEMETRY__AGENT__ENABLED=false",
		"BROKKR__BROKER__CONFIG_WATCH=false",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("Environ() lacks %s", want)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "BROKKR__TELEMETRY__BROKER__ENABLED=") {
			t.Errorf("unset override rendered: %s", kv)
		}
	}
	if len(env) != len(BrokerKeys())-3 { // three unset overrides are left out
		t.Errorf("Environ() has %d pairs for %d keys", len(env), len(BrokerKeys()))
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"broker.pak_hash":               "BROKKR__BROKER__PAK_HASH",
		"cors.allowed_origins":          "BROKKR__CORS__ALLOWED_ORIGINS",
		"telemetry.broker.service_name": "BROKKR__TELEMETRY__BROKER__SERVICE_NAME",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
		if got := envKey(want); got != key {
			t.Errorf("envKey(%q) = %q, want %q", want, got, key)
		}
	}
}

func TestTelemetryResolution(t *testing.T) {
	tel := Telemetry{
		Enabled:      false,
		OTLPEndpoint: "http://c:4317",
		ServiceName:  "brokkr",
		SamplingRate: 0.1,
		Broker:       TelemetryOverride{Enabled: ptr(true), ServiceName: "brokkr-broker", SamplingRate: ptr(0.0)},
		Agent:        TelemetryOverride{OTLPEndpoint: "http://agent-c:4317"},
	}
	if got, want := tel.ForBroker(), (TelemetrySettings{Enabled: true, OTLPEndpoint: "http://c:4317", ServiceName: "brokkr-broker", SamplingRate: 0}); got != want {
		t.Errorf("ForBroker() = %+v, want %+v", got, want)
	}
	if got, want := tel.ForAgent(), (TelemetrySettings{Enabled: false, OTLPEndpoint: "http://agent-c:4317", ServiceName: "brokkr", SamplingRate: 0.1}); got != want {
		t.Errorf("ForAgent() = %+v, want %+v", got, want)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log, lv, err := Logger(Log{Level: "error", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("dropped")
	lv.Set(-4) // debug
	log.Debug("kept")
	if got := buf.String(); strings.Contains(got, "dropped") || !strings.Contains(got, `"msg":"kept"`) {
		t.Errorf("output = %q", got)
	}
	if _, _, err := Logger(Log{Level: "info", Format: "xml"}, &buf); err == nil {
		t.Error("bad format accepted")
	}
}
