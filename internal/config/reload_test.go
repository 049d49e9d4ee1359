package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDynamicChanges(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b *Broker)
		want   []Change
	}{
		{"no change", func(*Broker) {}, nil},
		{
			name: "cold keys are not reported",
			mutate: func(b *Broker) {
				b.Broker.ListenAddr = ":9999"
				b.Database.MaxConnections = 3
				b.Broker.PAKHash = strings.Repeat("a", 64)
			},
			want: nil,
		},
		{
			name: "reference keys in reference order",
			mutate: func(b *Broker) {
				b.CORS.MaxAgeSeconds = 60
				b.CORS.AllowedOrigins = []string{"https://a.example.com", "https://b.example.com"}
				b.Log.Level = "debug"
				b.Broker.WebhookDeliveryBatchSize = 10
			},
			want: []Change{
				{Key: "log.level", OldValue: "info", NewValue: "debug"},
				{Key: "broker.webhook_delivery_batch_size", OldValue: "50", NewValue: "10"},
				{Key: "cors.allowed_origins", OldValue: `["http://localhost:3001"]`, NewValue: `["https://a.example.com", "https://b.example.com"]`},
				{Key: "cors.max_age_seconds", OldValue: "3600", NewValue: "60"},
			},
		},
		{
			name: "extra hot keys",
			mutate: func(b *Broker) {
				b.Broker.WebhookClaimTTLSeconds = 120
				b.CORS.AllowedMethods = []string{}
				b.Broker.AuthCacheTTLSeconds = 0
				b.Broker.FleetSweepIntervalSeconds = 5
			},
			want: []Change{
				{Key: "cors.allowed_methods", OldValue: `["GET", "POST", "PUT", "DELETE", "OPTIONS"]`, NewValue: `[]`},
				{Key: "broker.auth_cache_ttl_seconds", OldValue: "60", NewValue: "0"},
				{Key: "broker.fleet_sweep_interval_seconds", OldValue: "20", NewValue: "5"},
				{Key: "broker.webhook_claim_ttl_seconds", OldValue: "60", NewValue: "120"},
			},
		},
		{
			name:   "list order matters",
			mutate: func(b *Broker) { b.CORS.AllowedHeaders = []string{"Content-Type", "Authorization"} },
			want: []Change{
				{Key: "cors.allowed_headers", OldValue: `["Authorization", "Content-Type"]`, NewValue: `["Content-Type", "Authorization"]`},
			},
		},
		{
			name:   "quotes inside list items are escaped",
			mutate: func(b *Broker) { b.CORS.AllowedOrigins = []string{`http://a"b`} },
			want: []Change{
				{Key: "cors.allowed_origins", OldValue: `["http://localhost:3001"]`, NewValue: `["http://a\"b"]`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testDefaults()
			after := testDefaults()
			tt.mutate(&after)
			got := DynamicChanges(before, after)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DynamicChanges =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestEveryHotKeyIsDetected(t *testing.T) {
	keys := BrokerHotKeys()
	if len(keys) != 20 {
		t.Fatalf("%d hot keys, want 20", len(keys))
	}
	if !slices.Equal(keys[:8], []string{
		"log.level",
		"broker.diagnostic_cleanup_interval_seconds",
		"broker.diagnostic_max_age_hours",
		"broker.webhook_delivery_interval_seconds",
		"broker.webhook_delivery_batch_size",
		"broker.webhook_cleanup_retention_days",
		"cors.allowed_origins",
		"cors.max_age_seconds",
	}) {
		t.Errorf("the first eight hot keys must be the reference's, in its order: %q", keys[:8])
	}
	all := BrokerKeys()
	for _, key := range keys {
		if !slices.Contains(all, key) {
			t.Errorf("hot key %q is not a configuration key", key)
		}
	}

	// Change every hot key through the environment and expect exactly the hot keys back.
	before := testDefaults()
	var env []string
	for _, key := range keys {
		v := "123"
		switch key {
		case "log.level":
			v = "error"
		case "cors.allowed_origins":
			v = "https://x.example.com"
		case "cors.allowed_methods":
			v = "GET"
		case "cors.allowed_headers":
			v = "X-Trace"
		}
		env = append(env, EnvName(key)+"="+v)
	}
	after, _ := mustLoad(t, LoadOptions{Environ: testEnv(env...)})
	var got []string
	for _, c := range DynamicChanges(before, after) {
		got = append(got, c.Key)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("changed keys =\n%q\nwant\n%q", got, keys)
	}
	if sc := StaticChanges(before, after); len(sc) != 0 {
		t.Errorf("static changes reported for hot-only edits: %+v", sc)
	}
}

func TestApplyDynamicAndStaticChanges(t *testing.T) {
	current := testDefaults()
	loaded := testDefaults()
	loaded.Log.Level = "debug"
	loaded.CORS.AllowedOrigins = []string{"*"}
	loaded.Broker.ListenAddr = "127.0.0.1:9000"
	loaded.Broker.PAKHash = strings.Repeat("d", 64)
	loaded.Database.URL = "postgres://u:newpw@db/brokkr"

	applied := ApplyDynamic(current, loaded)
	if applied.Log.Level != "debug" || !slices.Equal(applied.CORS.AllowedOrigins, []string{"*"}) {
		t.Errorf("hot values not applied: %+v %+v", applied.Log, applied.CORS)
	}
	if applied.Broker.ListenAddr != current.Broker.ListenAddr || applied.Broker.PAKHash != "" || applied.Database.URL != "" {
		t.Errorf("cold values must keep their current value: %+v", applied.Broker)
	}
	loaded.CORS.AllowedOrigins[0] = "https://mutated.example.com"
	if applied.CORS.AllowedOrigins[0] != "*" {
		t.Error("ApplyDynamic shares list storage with its argument")
	}

	got := StaticChanges(current, loaded)
	want := []Change{
		{Key: "database.url", OldValue: "", NewValue: "postgres://u:********@db/brokkr"},
		{Key: "broker.listen_addr", OldValue: "0.0.0.0:3000", NewValue: "127.0.0.1:9000"},
		{Key: "broker.pak_hash", OldValue: "", NewValue: Mask},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StaticChanges =\n%+v\nwant\n%+v", got, want)
	}
}
