package kube

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/brokkr/brokkr/internal/manifest"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Ref names one Kubernetes object.
type Ref struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

// RefOf returns the reference of obj.
func RefOf(obj *unstructured.Unstructured) Ref {
	return Ref{GVK: obj.GroupVersionKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String renders the reference like "apps/v1 Deployment shop/web".
func (r Ref) String() string {
	name := r.Name
	if r.Namespace != "" {
		name = r.Namespace + "/" + r.Name
	}
	return fmt.Sprintf("%s %s %s", r.GVK.GroupVersion(), r.GVK.Kind, name)
}

// Parse splits a multi-document YAML (or JSON) manifest into objects, as manifest.Parse
// reads it: empty and null documents are skipped, a `kind: List` document contributes its
// items, and every object needs apiVersion, kind and metadata.name; the error names the
// offending document (1-based).
func Parse(content string) ([]*unstructured.Unstructured, error) {
	objs, err := manifest.Parse(content)
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, obj := range objs {
		out[i] = &unstructured.Unstructured{Object: obj}
	}
	return out, nil
}

// SetAnnotations merges annotations into obj's metadata.annotations; the given keys win.
func SetAnnotations(obj *unstructured.Unstructured, add map[string]string) {
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = make(map[string]string, len(add))
	}
	for k, v := range add {
		ann[k] = v
	}
	obj.SetAnnotations(ann)
}

// encode renders obj as the JSON body of an apply patch.
func encode(obj *unstructured.Unstructured) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(obj.Object); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
