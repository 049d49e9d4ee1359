package config

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// fieldErrors unpacks the joined error of Validate.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate error is not a joined error: %T", err)
	}
	var out []*FieldError
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("problem %v is not a *FieldError", e)
		}
		out = append(out, fe)
	}
	return out
}

func keysOf(fes []*FieldError) []string {
	keys := make([]string, len(fes))
	for i, fe := range fes {
		keys[i] = fe.Key
	}
	return keys
}

func TestValidateReportsEveryProblem(t *testing.T) {
	b := testDefaults()
	b.Broker.PAKHash = "not-a-hash"
	b.Broker.WebhookEncryptionKey = "abcd"
	b.Log.Level = "loud"
	b.Log.Format = "xml"
	b.Broker.ListenAddr = "3000"
	b.Broker.WebhookDeliveryBatchSize = 0
	b.Broker.AuditFlushIntervalMillis = -1
	b.Broker.MaxBodyBytes = 100
	b.Database.URL = "mysql://db/brokkr"
	b.Database.Schema = "pg_catalog"
	b.Database.MaxConnections = 0
	b.CORS.AllowedOrigins = []string{"*", "https://ok.example.com", "https://bad.example.com/"}
	b.Telemetry.SamplingRate = 1.5
	b.PAK.LongTokenLength = 65

	fes := fieldErrors(t, b.Validate())
	want := []string{
		"database.url",
		"database.schema",
		"database.max_connections",
		"log.level",
		"log.format",
		"broker.listen_addr",
		"broker.pak_hash",
		"broker.max_body_bytes",
		"broker.webhook_encryption_key",
		"broker.webhook_delivery_batch_size",
		"broker.audit_flush_interval_ms",
		"cors.allowed_origins[2]",
		"pak.long_token_length",
		"telemetry.sampling_rate",
	}
	if got := keysOf(fes); !slices.Equal(got, want) {
		t.Fatalf("problem keys =\n%q\nwant\n%q", got, want)
	}
	msg := b.Validate().Error()
	for _, line := range []string{
		"broker.pak_hash: must be 64 hexadecimal characters (a SHA-256 digest) or empty",
		"database.schema: must not start with pg_ (reserved by PostgreSQL)",
		"broker.webhook_delivery_batch_size: must be greater than 0 (got 0)",
		`cors.allowed_origins[2]: "https://bad.example.com/" must not have a path`,
	} {
		if !strings.Contains(msg, line) {
			t.Errorf("message lacks %q:\n%s", line, msg)
		}
	}
}

func TestValidateRules(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name    string
		mutate  func(b *Broker)
		wantKey string // "" = valid
	}{
		{"defaults", func(*Broker) {}, ""},
		{"pak hash ok", func(b *Broker) { b.Broker.PAKHash = hex }, ""},
		{"pak hash upper ok", func(b *Broker) { b.Broker.PAKHash = strings.ToUpper(hex) }, ""},
		{"pak hash short", func(b *Broker) { b.Broker.PAKHash = hex[:63] }, "broker.pak_hash"},
		{"pak hash non-hex", func(b *Broker) { b.Broker.PAKHash = "g" + hex[1:] }, "broker.pak_hash"},
		{"webhook key ok", func(b *Broker) { b.Broker.WebhookEncryptionKey = hex }, ""},
		{"webhook key long", func(b *Broker) { b.Broker.WebhookEncryptionKey = hex + "00" }, "broker.webhook_encryption_key"},
		{"level trace", func(b *Broker) { b.Log.Level = "trace" }, ""},
		{"level bad", func(b *Broker) { b.Log.Level = "verbose" }, "log.level"},
		{"listen ipv6", func(b *Broker) { b.Broker.ListenAddr = "[::1]:3000" }, ""},
		{"listen port only", func(b *Broker) { b.Broker.ListenAddr = ":0" }, ""},
		{"listen no port", func(b *Broker) { b.Broker.ListenAddr = "localhost" }, "broker.listen_addr"},
		{"listen bad port", func(b *Broker) { b.Broker.ListenAddr = "localhost:http" }, "broker.listen_addr"},
		{"listen big port", func(b *Broker) { b.Broker.ListenAddr = "localhost:70000" }, "broker.listen_addr"},
		{"db url postgres", func(b *Broker) { b.Database.URL = "postgres://u:p@h:5432/d?sslmode=disable" }, ""},
		{"db url postgresql", func(b *Broker) { b.Database.URL = "postgresql:///d?host=/run/postgresql" }, ""},
		{"db url keyword form", func(b *Broker) { b.Database.URL = "host=h dbname=d" }, "database.url"},
		{"db url unparsable", func(b *Broker) { b.Database.URL = "postgres://h:port/d" }, "database.url"},
		{"schema ok", func(b *Broker) { b.Database.Schema = "_tenant_1" }, ""},
		{"schema upper", func(b *Broker) { b.Database.Schema = "Tenant" }, "database.schema"},
		{"schema digit first", func(b *Broker) { b.Database.Schema = "1tenant" }, "database.schema"},
		{"schema too long", func(b *Broker) { b.Database.Schema = strings.Repeat("a", 64) }, "database.schema"},
		{"schema max length", func(b *Broker) { b.Database.Schema = strings.Repeat("a", 63) }, ""},
		{"schema pg_", func(b *Broker) { b.Database.Schema = "pg_temp" }, "database.schema"},
		{"no data dir with url", func(b *Broker) { b.Database.DataDir = ""; b.Database.URL = "postgres://h/d" }, ""},
		{"no data dir embedded", func(b *Broker) { b.Database.DataDir = "" }, "database.data_dir"},
		{"max connections 1000", func(b *Broker) { b.Database.MaxConnections = 1000 }, ""},
		{"max connections 1001", func(b *Broker) { b.Database.MaxConnections = 1001 }, "database.max_connections"},
		{"embedded port", func(b *Broker) { b.Database.EmbeddedPort = 65536 }, "database.embedded_port"},
		{"auth cache disabled", func(b *Broker) { b.Broker.AuthCacheTTLSeconds = 0 }, ""},
		{"auth cache negative", func(b *Broker) { b.Broker.AuthCacheTTLSeconds = -1 }, "broker.auth_cache_ttl_seconds"},
		{"max body 1024", func(b *Broker) { b.Broker.MaxBodyBytes = 1024 }, ""},
		{"max body 1023", func(b *Broker) { b.Broker.MaxBodyBytes = 1023 }, "broker.max_body_bytes"},
		{"agent events forever", func(b *Broker) { b.Broker.AgentEventRetentionDays = 0 }, ""},
		{"agent events negative", func(b *Broker) { b.Broker.AgentEventRetentionDays = -1 }, "broker.agent_event_retention_days"},
		{"fleet sweep zero", func(b *Broker) { b.Broker.FleetSweepIntervalSeconds = 0 }, "broker.fleet_sweep_interval_seconds"},
		{"shutdown zero", func(b *Broker) { b.Broker.ShutdownTimeoutSeconds = 0 }, "broker.shutdown_timeout_seconds"},
		{"admin key file empty", func(b *Broker) { b.Broker.AdminKeyFile = "" }, "broker.admin_key_file"},
		{"origin star", func(b *Broker) { b.CORS.AllowedOrigins = []string{"*"} }, ""},
		{"origin port", func(b *Broker) { b.CORS.AllowedOrigins = []string{"http://localhost:3001"} }, ""},
		{"origin ipv6", func(b *Broker) { b.CORS.AllowedOrigins = []string{"http://[::1]:8080"} }, ""},
		{"origin no scheme", func(b *Broker) { b.CORS.AllowedOrigins = []string{"example.com"} }, "cors.allowed_origins[0]"},
		{"origin path", func(b *Broker) { b.CORS.AllowedOrigins = []string{"https://example.com/app"} }, "cors.allowed_origins[0]"},
		{"origin query", func(b *Broker) { b.CORS.AllowedOrigins = []string{"https://example.com?x=1"} }, "cors.allowed_origins[0]"},
		{"origin empty port", func(b *Broker) { b.CORS.AllowedOrigins = []string{"https://example.com:"} }, "cors.allowed_origins[0]"},
		{"origin user", func(b *Broker) { b.CORS.AllowedOrigins = []string{"https://u@example.com"} }, "cors.allowed_origins[0]"},
		{"origin empty", func(b *Broker) { b.CORS.AllowedOrigins = []string{""} }, "cors.allowed_origins[0]"},
		{"method bad", func(b *Broker) { b.CORS.AllowedMethods = []string{"GET", "PO ST"} }, "cors.allowed_methods[1]"},
		{"header bad", func(b *Broker) { b.CORS.AllowedHeaders = []string{"X:Y"} }, "cors.allowed_headers[0]"},
		{"cors max age negative", func(b *Broker) { b.CORS.MaxAgeSeconds = -1 }, "cors.max_age_seconds"},
		{"pak prefix empty", func(b *Broker) { b.PAK.Prefix = "" }, "pak.prefix"},
		{"pak prefix underscore", func(b *Broker) { b.PAK.Prefix = "my_org" }, "pak.prefix"},
		{"pak short prefix empty", func(b *Broker) { b.PAK.ShortTokenPrefix = "" }, ""},
		{"pak short prefix bad", func(b *Broker) { b.PAK.ShortTokenPrefix = "B-R" }, "pak.short_token_prefix"},
		{"pak short length 0", func(b *Broker) { b.PAK.ShortTokenLength = 0 }, "pak.short_token_length"},
		{"pak long length 64", func(b *Broker) { b.PAK.LongTokenLength = 64 }, ""},
		{"pak rng other", func(b *Broker) { b.PAK.RNG = "threadrng" }, "pak.rng"},
		{"sampling 0", func(b *Broker) { b.Telemetry.SamplingRate = 0 }, ""},
		{"sampling NaN", func(b *Broker) { b.Telemetry.SamplingRate = math.NaN() }, "telemetry.sampling_rate"},
		{"override sampling", func(b *Broker) { b.Telemetry.Agent.SamplingRate = ptr(-0.1) }, "telemetry.agent.sampling_rate"},
		{"endpoint bad", func(b *Broker) { b.Telemetry.OTLPEndpoint = "collector:4317" }, "telemetry.otlp_endpoint"},
		{"override endpoint bad", func(b *Broker) { b.Telemetry.Broker.OTLPEndpoint = "ftp://c" }, "telemetry.broker.otlp_endpoint"},
		{"enabled without endpoint", func(b *Broker) { b.Telemetry.OTLPEndpoint = ""; b.Telemetry.Broker.Enabled = ptr(true) }, "telemetry.otlp_endpoint"},
		{"disabled without endpoint", func(b *Broker) { b.Telemetry.OTLPEndpoint = "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testDefaults()
			tt.mutate(&b)
			keys := keysOf(fieldErrors(t, b.Validate()))
			switch {
			case tt.wantKey == "" && len(keys) > 0:
				t.Errorf("unexpected problems: %v", b.Validate())
			case tt.wantKey != "" && !slices.Equal(keys, []string{tt.wantKey}):
				t.Errorf("problem keys = %q, want [%q]", keys, tt.wantKey)
			}
		})
	}
}
