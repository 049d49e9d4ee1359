package config

import (
	"reflect"
	"slices"
)

// Change is one configuration key whose value differs between two configurations. Values
// are rendered as text; lists look like `["a", "b"]`.
type Change struct {
	Key      string `json:"key"`
	OldValue string `json:"old_value"`
	NewValue string `json:"new_value"`
}

// brokerHotKeys are the keys a running broker applies on reload without a restart. The
// first eight are the ones the original Brokkr broker reloads, in its order.
var brokerHotKeys = []string{
	"log.level",
	"broker.diagnostic_cleanup_interval_seconds",
	"broker.diagnostic_max_age_hours",
	"broker.webhook_delivery_interval_seconds",
	"broker.webhook_delivery_batch_size",
	"broker.webhook_cleanup_retention_days",
	"cors.allowed_origins",
	"cors.max_age_seconds",
	"cors.allowed_methods",
	"cors.allowed_headers",
	"broker.auth_cache_ttl_seconds",
	"broker.work_order_maintenance_interval_seconds",
	"broker.audit_log_retention_days",
	"broker.audit_cleanup_interval_seconds",
	"broker.agent_event_retention_days",
	"broker.agent_event_cleanup_interval_seconds",
	"broker.telemetry_eviction_interval_seconds",
	"broker.fleet_sweep_interval_seconds",
	"broker.webhook_claim_ttl_seconds",
	"broker.rollout_interval_seconds",
}

// BrokerHotKeys returns the keys a running broker can change on reload, in report order.
func BrokerHotKeys() []string { return slices.Clone(brokerHotKeys) }

// BrokerKeys returns every broker configuration key in declaration order.
func BrokerKeys() []string {
	schema := schemaOf(reflect.TypeFor[Broker]())
	keys := make([]string, len(schema))
	for i, l := range schema {
		keys[i] = l.key
	}
	return keys
}

// DynamicChanges lists the hot-reloadable keys whose values differ between before and after,
// in the order of BrokerHotKeys.
func DynamicChanges(before, after Broker) []Change {
	return changes(&before, &after, brokerHotKeys, func(key string) bool { return slices.Contains(brokerHotKeys, key) })
}

// StaticChanges lists the keys that differ between before and after but only take effect after
// a restart. Secret values are reported masked.
func StaticChanges(before, after Broker) []Change {
	return changes(&before, &after, brokerHotKeys, func(key string) bool { return !slices.Contains(brokerHotKeys, key) })
}

// ApplyDynamic returns current with the hot-reloadable keys taken from loaded; every other
// key keeps its current value.
func ApplyDynamic(current, loaded Broker) Broker {
	cur := reflect.ValueOf(&current).Elem()
	src := reflect.ValueOf(&loaded).Elem()
	for _, l := range schemaOf(cur.Type()) {
		if !slices.Contains(brokerHotKeys, l.key) {
			continue
		}
		from := src.FieldByIndex(l.index)
		if from.Kind() == reflect.Slice && !from.IsNil() {
			from = reflect.AppendSlice(reflect.MakeSlice(from.Type(), 0, from.Len()), from)
		}
		cur.FieldByIndex(l.index).Set(from)
	}
	return current
}

// changes compares the selected keys of two structs of the same type. The hot keys are
// visited first, in their order, then the remaining keys in declaration order.
func changes(oldPtr, newPtr any, hotKeys []string, selected func(string) bool) []Change {
	ov := reflect.ValueOf(oldPtr).Elem()
	nv := reflect.ValueOf(newPtr).Elem()
	schema := schemaOf(ov.Type())
	byKey := make(map[string]leaf, len(schema))
	order := slices.Clone(hotKeys)
	for _, l := range schema {
		byKey[l.key] = l
		if !slices.Contains(hotKeys, l.key) {
			order = append(order, l.key)
		}
	}
	var out []Change
	for _, key := range order {
		l, ok := byKey[key]
		if !ok || !selected(key) {
			continue
		}
		of, nf := ov.FieldByIndex(l.index), nv.FieldByIndex(l.index)
		if equalLeaf(of, nf) {
			continue
		}
		c := Change{Key: key, OldValue: formatValue(of, displayList), NewValue: formatValue(nf, displayList)}
		if l.secret != "" {
			c.OldValue, c.NewValue = maskValue(l.secret, c.OldValue), maskValue(l.secret, c.NewValue)
		}
		out = append(out, c)
	}
	return out
}

// equalLeaf compares two leaf values; nil and empty lists are equal.
func equalLeaf(a, b reflect.Value) bool {
	pa, oka := plainValue(a)
	pb, okb := plainValue(b)
	if oka != okb {
		return false
	}
	return reflect.DeepEqual(pa, pb)
}

func maskValue(kind, s string) string {
	if s == "" {
		return ""
	}
	if kind == "url" {
		return maskURLPassword(s)
	}
	return Mask
}
