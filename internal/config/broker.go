package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/brokkr/brokkr/internal/logging"
)

// Broker is the complete configuration of brokkr-broker. Keys are the `koanf` tags joined
// with dots (for example broker.listen_addr); see docs/configuration.md.
type Broker struct {
	Database  Database       `koanf:"database"`
	Log       Log            `koanf:"log"`
	Broker    BrokerSettings `koanf:"broker"`
	CORS      CORS           `koanf:"cors"`
	PAK       PAK            `koanf:"pak"`
	Telemetry Telemetry      `koanf:"telemetry"`
}

// Database configures the PostgreSQL connection.
type Database struct {
	// URL is a postgres:// or postgresql:// connection URL; "" starts an embedded local
	// PostgreSQL owned by the broker.
	URL string `koanf:"url" secret:"url"`
	// Schema, when set, confines all tables to this schema (created if missing); "" uses the
	// server's default search_path.
	Schema string `koanf:"schema"`
	// DataDir is the embedded database's directory.
	DataDir string `koanf:"data_dir"`
	// MaxConnections caps the connection pool (1..1000).
	MaxConnections int `koanf:"max_connections"`
	// EmbeddedPort is the embedded server's TCP port on 127.0.0.1; 0 picks a free port.
	EmbeddedPort int `koanf:"embedded_port"`
}

// Log configures the process logger.
type Log struct {
	// Level is debug, info, warn or error ("trace" is read as debug).
	Level string `koanf:"level"`
	// Format is text or json.
	Format string `koanf:"format"`
}

// BrokerSettings holds the broker's own settings: listener, admin credential, limits and
// the schedules of its background workers.
type BrokerSettings struct {
	ListenAddr                          string `koanf:"listen_addr"`
	PAKHash                             string `koanf:"pak_hash" secret:"true"`
	AdminKeyFile                        string `koanf:"admin_key_file"`
	AuthCacheTTLSeconds                 int    `koanf:"auth_cache_ttl_seconds"`
	MaxBodyBytes                        int64  `koanf:"max_body_bytes"`
	ShutdownTimeoutSeconds              int    `koanf:"shutdown_timeout_seconds"`
	DiagnosticCleanupIntervalSeconds    int    `koanf:"diagnostic_cleanup_interval_seconds"`
	DiagnosticMaxAgeHours               int    `koanf:"diagnostic_max_age_hours"`
	WebhookEncryptionKey                string `koanf:"webhook_encryption_key" secret:"true"`
	WebhookDeliveryIntervalSeconds      int    `koanf:"webhook_delivery_interval_seconds"`
	WebhookDeliveryBatchSize            int    `koanf:"webhook_delivery_batch_size"`
	WebhookCleanupRetentionDays         int    `koanf:"webhook_cleanup_retention_days"`
	WebhookClaimTTLSeconds              int    `koanf:"webhook_claim_ttl_seconds"`
	WorkOrderMaintenanceIntervalSeconds int    `koanf:"work_order_maintenance_interval_seconds"`
	AuditLogRetentionDays               int    `koanf:"audit_log_retention_days"`
	AuditCleanupIntervalSeconds         int    `koanf:"audit_cleanup_interval_seconds"`
	AuditBatchSize                      int    `koanf:"audit_batch_size"`
	AuditFlushIntervalMillis            int    `koanf:"audit_flush_interval_ms"`
	AuditBufferSize                     int    `koanf:"audit_buffer_size"`
	AgentEventRetentionDays             int    `koanf:"agent_event_retention_days"`
	AgentEventCleanupIntervalSeconds    int    `koanf:"agent_event_cleanup_interval_seconds"`
	TelemetryRetentionHours             int    `koanf:"telemetry_retention_hours"`
	TelemetryEvictionIntervalSeconds    int    `koanf:"telemetry_eviction_interval_seconds"`
	FleetSweepIntervalSeconds           int    `koanf:"fleet_sweep_interval_seconds"`
	RolloutIntervalSeconds              int    `koanf:"rollout_interval_seconds"`
	TemplateRenderTimeoutMillis         int    `koanf:"template_render_timeout_ms"`
	TemplateMaxConcurrentRenders        int    `koanf:"template_max_concurrent_renders"`
	TemplateMaxNesting                  int    `koanf:"template_max_nesting"`
	AuditFailedAuthPerMinute            int    `koanf:"audit_failed_auth_per_minute"`
	MaxInflightRequests                 int    `koanf:"max_inflight_requests"`
	MaxQueueWaitMillis                  int    `koanf:"max_queue_wait_ms"`
	ReadTimeoutSeconds                  int    `koanf:"read_timeout_seconds"`
	MaxKeepAliveConnections             int    `koanf:"max_keepalive_connections"`
	TargetStateCacheEntries             int    `koanf:"target_state_cache_entries"`
	SocketRecheckIntervalSeconds        int    `koanf:"socket_recheck_interval_seconds"`
	ConfigWatch                         bool   `koanf:"config_watch"`
	// HeartbeatFlushIntervalMillis is how long agent heartbeats are gathered in memory before
	// they are written in one statement; 0 writes each heartbeat at once.
	HeartbeatFlushIntervalMillis int `koanf:"heartbeat_flush_interval_ms"`
	// DebugListenAddr, when set, serves Go's profiler (/debug/pprof/) on its own listener.
	DebugListenAddr string `koanf:"debug_listen_addr"`
}

// CORS is the cross-origin policy of the /api/v1 routes.
type CORS struct {
	AllowedOrigins []string `koanf:"allowed_origins"`
	AllowedMethods []string `koanf:"allowed_methods"`
	AllowedHeaders []string `koanf:"allowed_headers"`
	MaxAgeSeconds  int      `koanf:"max_age_seconds"`
}

// PAK shapes newly minted prefixed API keys: <prefix>_<short_token_prefix><short>_<long>.
type PAK struct {
	Prefix           string `koanf:"prefix"`
	ShortTokenPrefix string `koanf:"short_token_prefix"`
	ShortTokenLength int    `koanf:"short_token_length"`
	LongTokenLength  int    `koanf:"long_token_length"`
	// RNG names the random source; only "osrng" (the operating system's CSPRNG) exists.
	RNG string `koanf:"rng"`
	// Digest is accepted for compatibility with existing configuration files and unused.
	Digest int `koanf:"digest"`
}

// Telemetry configures OpenTelemetry trace export. Broker and Agent override the shared
// values for one component; unset override fields inherit.
type Telemetry struct {
	Enabled      bool              `koanf:"enabled"`
	OTLPEndpoint string            `koanf:"otlp_endpoint" secret:"url"`
	ServiceName  string            `koanf:"service_name"`
	SamplingRate float64           `koanf:"sampling_rate"`
	Broker       TelemetryOverride `koanf:"broker"`
	Agent        TelemetryOverride `koanf:"agent"`
}

// TelemetryOverride holds per-component telemetry settings; nil pointers and empty strings
// mean "inherit from [telemetry]".
type TelemetryOverride struct {
	Enabled      *bool    `koanf:"enabled"`
	OTLPEndpoint string   `koanf:"otlp_endpoint" secret:"url"`
	ServiceName  string   `koanf:"service_name"`
	SamplingRate *float64 `koanf:"sampling_rate"`
}

// PublicDefaultPAKHash is the admin PAK hash shipped in the original Brokkr default
// configuration. Its plaintext key is published, so a broker using it is open to anyone.
const PublicDefaultPAKHash = "4c697273df3d764cba950bb5c04368097685f09259f5bd880d892cf1ff9f4cdd"

// BrokerFlagKeys returns the standard mapping of brokkr-broker flags to configuration keys.
func BrokerFlagKeys() map[string]string {
	return map[string]string{
		"listen":       "broker.listen_addr",
		"data-dir":     "database.data_dir",
		"database-url": "database.url",
		"log-level":    "log.level",
		"log-format":   "log.format",
	}
}

// DefaultBroker returns the built-in broker configuration for the current user and
// environment (the embedded database directory depends on both).
func DefaultBroker() Broker {
	b := defaultBroker(os.Getenv, os.Geteuid())
	b.resolve(os.Getenv)
	return b
}

// defaultBroker returns the defaults with admin_key_file left empty; resolve derives it
// from the effective data directory.
func defaultBroker(getenv func(string) string, euid int) Broker {
	return Broker{
		Database: Database{
			DataDir:        defaultDataDir(getenv, euid),
			MaxConnections: 20,
		},
		Log: Log{Level: "info", Format: "text"},
		Broker: BrokerSettings{
			ListenAddr:                          "0.0.0.0:3000",
			AuthCacheTTLSeconds:                 60,
			MaxBodyBytes:                        2 << 20,
			ShutdownTimeoutSeconds:              30,
			DiagnosticCleanupIntervalSeconds:    900,
			DiagnosticMaxAgeHours:               1,
			WebhookDeliveryIntervalSeconds:      5,
			WebhookDeliveryBatchSize:            50,
			WebhookCleanupRetentionDays:         7,
			WebhookClaimTTLSeconds:              60,
			WorkOrderMaintenanceIntervalSeconds: 10,
			AuditLogRetentionDays:               90,
			AuditCleanupIntervalSeconds:         86400,
			AuditBatchSize:                      100,
			AuditFlushIntervalMillis:            1000,
			AuditBufferSize:                     10000,
			AgentEventRetentionDays:             30,
			AgentEventCleanupIntervalSeconds:    3600,
			TelemetryRetentionHours:             6,
			TelemetryEvictionIntervalSeconds:    60,
			FleetSweepIntervalSeconds:           20,
			RolloutIntervalSeconds:              5,
			TemplateRenderTimeoutMillis:         2000,
			TemplateMaxConcurrentRenders:        4,
			TemplateMaxNesting:                  64,
			AuditFailedAuthPerMinute:            30,
			MaxInflightRequests:                 256,
			MaxQueueWaitMillis:                  500,
			ReadTimeoutSeconds:                  30,
			MaxKeepAliveConnections:             8192,
			TargetStateCacheEntries:             200000,
			SocketRecheckIntervalSeconds:        30,
			HeartbeatFlushIntervalMillis:        1000,
		},
		CORS: CORS{
			AllowedOrigins: []string{"http://localhost:3001"},
			AllowedMethods: []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"},
			AllowedHeaders: []string{"Authorization", "Content-Type"},
			MaxAgeSeconds:  3600,
		},
		PAK: PAK{
			Prefix:           "brokkr",
			ShortTokenPrefix: "BR",
			ShortTokenLength: 8,
			LongTokenLength:  24,
			RNG:              "osrng",
			Digest:           8,
		},
		Telemetry: Telemetry{
			OTLPEndpoint: "http://localhost:4317",
			ServiceName:  "brokkr",
			SamplingRate: 0.1,
			Broker:       TelemetryOverride{ServiceName: "brokkr-broker"},
			Agent:        TelemetryOverride{ServiceName: "brokkr-agent"},
		},
	}
}

// defaultDataDir is $XDG_DATA_HOME/brokkr/postgres when XDG_DATA_HOME is an absolute path,
// else /var/lib/brokkr/postgres for root, else ~/.local/share/brokkr/postgres.
func defaultDataDir(getenv func(string) string, euid int) string {
	if x := getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "brokkr", "postgres")
	}
	if euid == 0 {
		return "/var/lib/brokkr/postgres"
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "share", "brokkr", "postgres")
}

// LoadBroker reads the broker configuration: defaults, then the file, then BROKKR__
// environment variables, then the changed flags. The result is normalised (hex secrets and
// names lower-cased, "~/" expanded, admin_key_file derived) and validated. Warnings list
// keys that matched nothing and the original Brokkr's spellings that were read (or ignored in
// favour of brokkr's). When only validation fails, the loaded configuration is
// returned together with the error so it can still be shown.
func LoadBroker(o LoadOptions) (Broker, []string, error) {
	getenv := o.getenv
	spec := loadSpec{
		defaults: defaultBroker(getenv, os.Geteuid()),
		flagKeys: o.FlagKeys,
		foreign:  []string{"agent"},
	}
	if spec.flagKeys == nil {
		spec.flagKeys = BrokerFlagKeys()
	}
	var b Broker
	warnings, err := load(o, spec, &b)
	if err != nil {
		return Broker{}, warnings, err
	}
	b.resolve(getenv)
	if err := b.Validate(); err != nil {
		return b, warnings, fmt.Errorf("config: invalid configuration:\n%w", err)
	}
	return b, warnings, nil
}

// resolve normalises values that have a canonical spelling and fills derived defaults.
// Values that cannot be normalised are left as they are for Validate to report.
func (b *Broker) resolve(getenv func(string) string) {
	b.Database.DataDir = expandHome(b.Database.DataDir, getenv)
	b.Broker.AdminKeyFile = expandHome(b.Broker.AdminKeyFile, getenv)
	if b.Broker.AdminKeyFile == "" && b.Database.DataDir != "" {
		b.Broker.AdminKeyFile = filepath.Join(filepath.Dir(b.Database.DataDir), "admin-pak")
	}
	b.Broker.PAKHash = strings.ToLower(strings.TrimSpace(b.Broker.PAKHash))
	b.Broker.WebhookEncryptionKey = strings.ToLower(strings.TrimSpace(b.Broker.WebhookEncryptionKey))
	if lvl, err := logging.CanonicalLevel(b.Log.Level); err == nil {
		b.Log.Level = lvl
	}
	if f, err := logging.ParseFormat(b.Log.Format); err == nil {
		b.Log.Format = f
	}
	for i, m := range b.CORS.AllowedMethods {
		b.CORS.AllowedMethods[i] = strings.ToUpper(strings.TrimSpace(m))
	}
	b.PAK.RNG = strings.ToLower(strings.TrimSpace(b.PAK.RNG))
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(p string, getenv func(string) string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}
