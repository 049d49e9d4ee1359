package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/brokkr/brokkr/internal/logging"
)

// FieldError is one validation problem, tied to the configuration key it concerns.
type FieldError struct {
	Key string
	Msg string
}

// Error implements error as "key: message".
func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// problems collects FieldErrors.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) positive(key string, v int) {
	if v <= 0 {
		p.add(key, "must be greater than 0 (got %d)", v)
	}
}

func (p *problems) atLeast(key string, v, lo int64) {
	if v < lo {
		p.add(key, "must be at least %d (got %d)", lo, v)
	}
}

func (p *problems) between(key string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(key, "must be between %d and %d (got %d)", lo, hi, v)
	}
}

var (
	schemaNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	alnumRE      = regexp.MustCompile(`^[A-Za-z0-9]*$`)
	schemeRE     = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// isHex64 reports whether s is exactly 64 hexadecimal characters.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110), as methods and header
// names must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validPort reports whether s is a decimal port number 0..65535.
func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

// checkOrigin validates one CORS origin: "*" or scheme://host[:port] with nothing after it.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil {
		return errors.New("is not a valid origin")
	}
	switch {
	case !schemeRE.MatchString(u.Scheme) || u.Opaque != "":
		return errors.New("must look like scheme://host[:port]")
	case u.User != nil:
		return errors.New("must not contain user information")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("must contain a host")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		return errors.New("must not have a path, query or fragment (not even a trailing slash)")
	case u.Port() != "" && !validPort(u.Port()):
		return errors.New("has an invalid port")
	case strings.HasSuffix(u.Host, ":"):
		return errors.New("has an empty port")
	}
	return nil
}

// checkHTTPURL validates an http(s) endpoint URL such as an OTLP collector address.
func checkHTTPURL(p *problems, key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "must be an http:// or https:// URL with a host")
	}
}

func checkSamplingRate(p *problems, key string, v float64) {
	if math.IsNaN(v) || v < 0 || v > 1 {
		p.add(key, "must be between 0 and 1 (got %v)", v)
	}
}

// Validate checks every key and reports all problems at once, joined with errors.Join;
// each is a *FieldError naming its key, e.g. "broker.pak_hash: must be 64 hexadecimal
// characters".
func (b Broker) Validate() error {
	var p problems

	// database
	if b.Database.URL != "" {
		u, err := url.Parse(b.Database.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p.add("database.url", "must be empty or a postgres:// or postgresql:// URL")
		}
	}
	if s := b.Database.Schema; s != "" {
		switch {
		case !schemaNameRE.MatchString(s):
			p.add("database.schema", "must match ^[a-z_][a-z0-9_]{0,62}$ (got %q)", s)
		case strings.HasPrefix(s, "pg_"):
			p.add("database.schema", "must not start with pg_ (reserved by PostgreSQL)")
		}
	}
	if b.Database.URL == "" && b.Database.DataDir == "" {
		p.add("database.data_dir", "must be set when database.url is empty (no home directory to derive it from)")
	}
	p.between("database.max_connections", b.Database.MaxConnections, 1, 1000)
	p.between("database.embedded_port", b.Database.EmbeddedPort, 0, 65535)

	// log
	if _, err := logging.CanonicalLevel(b.Log.Level); err != nil {
		p.add("log.level", "must be one of debug, info, warn, error (got %q)", b.Log.Level)
	}
	if _, err := logging.ParseFormat(b.Log.Format); err != nil {
		p.add("log.format", "must be text or json (got %q)", b.Log.Format)
	}

	// broker
	s := b.Broker
	if host, port, err := net.SplitHostPort(s.ListenAddr); err != nil {
		p.add("broker.listen_addr", "must be host:port, e.g. 0.0.0.0:3000 (%v)", err)
	} else if !validPort(port) {
		p.add("broker.listen_addr", "port %q must be a number between 0 and 65535", port)
	} else if strings.ContainsAny(host, " /") {
		p.add("broker.listen_addr", "host %q is not a host name or IP address", host)
	}
	if s.DebugListenAddr != "" {
		if _, port, err := net.SplitHostPort(s.DebugListenAddr); err != nil {
			p.add("broker.debug_listen_addr", "must be host:port, e.g. 127.0.0.1:6060, or empty (%v)", err)
		} else if !validPort(port) {
			p.add("broker.debug_listen_addr", "port %q must be a number between 0 and 65535", port)
		}
	}
	if s.PAKHash != "" && !isHex64(s.PAKHash) {
		p.add("broker.pak_hash", "must be 64 hexadecimal characters (a SHA-256 digest) or empty")
	}
	if s.AdminKeyFile == "" {
		p.add("broker.admin_key_file", "must not be empty")
	}
	p.atLeast("broker.auth_cache_ttl_seconds", int64(s.AuthCacheTTLSeconds), 0)
	p.atLeast("broker.max_body_bytes", s.MaxBodyBytes, 1024)
	p.positive("broker.shutdown_timeout_seconds", s.ShutdownTimeoutSeconds)
	p.positive("broker.diagnostic_cleanup_interval_seconds", s.DiagnosticCleanupIntervalSeconds)
	p.positive("broker.diagnostic_max_age_hours", s.DiagnosticMaxAgeHours)
	if s.WebhookEncryptionKey != "" && !isHex64(s.WebhookEncryptionKey) {
		p.add("broker.webhook_encryption_key", "must be 64 hexadecimal characters (a 32-byte key) or empty")
	}
	p.positive("broker.webhook_delivery_interval_seconds", s.WebhookDeliveryIntervalSeconds)
	p.positive("broker.webhook_delivery_batch_size", s.WebhookDeliveryBatchSize)
	p.positive("broker.webhook_cleanup_retention_days", s.WebhookCleanupRetentionDays)
	p.positive("broker.webhook_claim_ttl_seconds", s.WebhookClaimTTLSeconds)
	p.positive("broker.work_order_maintenance_interval_seconds", s.WorkOrderMaintenanceIntervalSeconds)
	p.positive("broker.audit_log_retention_days", s.AuditLogRetentionDays)
	p.positive("broker.audit_cleanup_interval_seconds", s.AuditCleanupIntervalSeconds)
	p.positive("broker.audit_batch_size", s.AuditBatchSize)
	p.positive("broker.audit_flush_interval_ms", s.AuditFlushIntervalMillis)
	p.positive("broker.audit_buffer_size", s.AuditBufferSize)
	p.atLeast("broker.agent_event_retention_days", int64(s.AgentEventRetentionDays), 0)
	p.positive("broker.agent_event_cleanup_interval_seconds", s.AgentEventCleanupIntervalSeconds)
	p.positive("broker.telemetry_retention_hours", s.TelemetryRetentionHours)
	p.positive("broker.telemetry_eviction_interval_seconds", s.TelemetryEvictionIntervalSeconds)
	p.positive("broker.fleet_sweep_interval_seconds", s.FleetSweepIntervalSeconds)
	p.positive("broker.rollout_interval_seconds", s.RolloutIntervalSeconds)
	p.positive("broker.template_render_timeout_ms", s.TemplateRenderTimeoutMillis)
	p.positive("broker.template_max_concurrent_renders", s.TemplateMaxConcurrentRenders)
	p.positive("broker.template_max_nesting", s.TemplateMaxNesting)
	p.positive("broker.audit_failed_auth_per_minute", s.AuditFailedAuthPerMinute)
	p.positive("broker.max_inflight_requests", s.MaxInflightRequests)
	p.positive("broker.max_queue_wait_ms", s.MaxQueueWaitMillis)
	p.positive("broker.read_timeout_seconds", s.ReadTimeoutSeconds)
	p.positive("broker.max_keepalive_connections", s.MaxKeepAliveConnections)
	p.atLeast("broker.target_state_cache_entries", int64(s.TargetStateCacheEntries), 0)
	p.positive("broker.socket_recheck_interval_seconds", s.SocketRecheckIntervalSeconds)
	p.between("broker.heartbeat_flush_interval_ms", s.HeartbeatFlushIntervalMillis, 0, 60000)

	// cors
	for i, o := range b.CORS.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			p.add(fmt.Sprintf("cors.allowed_origins[%d]", i), "%q %v", o, err)
		}
	}
	for i, m := range b.CORS.AllowedMethods {
		if !isToken(m) {
			p.add(fmt.Sprintf("cors.allowed_methods[%d]", i), "%q is not an HTTP method name", m)
		}
	}
	for i, h := range b.CORS.AllowedHeaders {
		if !isToken(h) {
			p.add(fmt.Sprintf("cors.allowed_headers[%d]", i), "%q is not an HTTP header name", h)
		}
	}
	p.atLeast("cors.max_age_seconds", int64(b.CORS.MaxAgeSeconds), 0)

	// pak
	if b.PAK.Prefix == "" || !alnumRE.MatchString(b.PAK.Prefix) {
		p.add("pak.prefix", "must be one or more letters or digits (got %q)", b.PAK.Prefix)
	}
	if !alnumRE.MatchString(b.PAK.ShortTokenPrefix) {
		p.add("pak.short_token_prefix", "must contain only letters and digits (got %q)", b.PAK.ShortTokenPrefix)
	}
	p.between("pak.short_token_length", b.PAK.ShortTokenLength, 1, 64)
	p.between("pak.long_token_length", b.PAK.LongTokenLength, 1, 64)
	if !strings.EqualFold(strings.TrimSpace(b.PAK.RNG), "osrng") {
		p.add("pak.rng", "only \"osrng\" is supported (got %q)", b.PAK.RNG)
	}

	// telemetry
	t := b.Telemetry
	if t.OTLPEndpoint != "" {
		checkHTTPURL(&p, "telemetry.otlp_endpoint", t.OTLPEndpoint)
	}
	checkSamplingRate(&p, "telemetry.sampling_rate", t.SamplingRate)
	for _, o := range []struct {
		name string
		ov   TelemetryOverride
	}{{"broker", t.Broker}, {"agent", t.Agent}} {
		prefix := "telemetry." + o.name + "."
		if o.ov.OTLPEndpoint != "" {
			checkHTTPURL(&p, prefix+"otlp_endpoint", o.ov.OTLPEndpoint)
		}
		if o.ov.SamplingRate != nil {
			checkSamplingRate(&p, prefix+"sampling_rate", *o.ov.SamplingRate)
		}
	}
	if eff := t.ForBroker(); eff.Enabled && eff.OTLPEndpoint == "" {
		p.add("telemetry.otlp_endpoint", "must be set when telemetry is enabled for the broker")
	}

	return errors.Join(p...)
}
