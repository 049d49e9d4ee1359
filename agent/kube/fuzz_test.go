package kube

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary manifests to the agent's manifest parser: it never panics, every
// object it returns can be applied (apiVersion, kind and name set), and the objects parse
// back to themselves from their JSON.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "---", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n",
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"}}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n", "a: [", "- 1\n- 2\n", "null\n---\n~\n",
		"apiVersion: a/b/c\nkind: K\nmetadata: {name: n}\n", "apiVersion: v1\nkind: List\nitems: 3\n",
		"&a [*a, *a]", strings.Repeat("[", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, manifest string) {
		objs, err := Parse(manifest)
		if err != nil {
			return
		}
		for _, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
				t.Fatalf("Parse(%q) returned an object without apiVersion, kind or name: %v", manifest, o.Object)
			}
			b, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatalf("object of Parse(%q) does not encode: %v", manifest, err)
			}
			again, err := Parse(string(b))
			if err != nil || len(again) != 1 || RefOf(again[0]) != RefOf(o) {
				t.Fatalf("object %s does not parse back: %v %v", b, again, err)
			}
		}
	})
}
