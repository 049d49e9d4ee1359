package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
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

// Parse splits a multi-document YAML (or JSON) manifest into objects. Empty and null
// documents are skipped; a `kind: List` document contributes its items. Every object needs
// apiVersion, kind and metadata.name; the error names the offending document (1-based).
func Parse(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: invalid YAML: %w", doc, err)
		}
		if len(raw) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: raw}
		if obj.IsList() {
			list, err := obj.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			for i := range list.Items {
				item := list.Items[i]
				if err := checkObject(&item); err != nil {
					return nil, fmt.Errorf("document %d, item %d: %w", doc, i+1, err)
				}
				out = append(out, &item)
			}
			continue
		}
		if err := checkObject(obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		out = append(out, obj)
	}
}

func checkObject(obj *unstructured.Unstructured) error {
	switch {
	case obj.GetAPIVersion() == "":
		return errors.New("apiVersion is required")
	case obj.GetKind() == "":
		return errors.New("kind is required")
	case obj.GetName() == "":
		if obj.GetGenerateName() != "" {
			return fmt.Errorf("%s: generateName cannot be applied, set metadata.name", obj.GetKind())
		}
		return fmt.Errorf("%s: %w", obj.GetKind(), errNoName)
	}
	if _, err := schema.ParseGroupVersion(obj.GetAPIVersion()); err != nil {
		return fmt.Errorf("apiVersion %q: %w", obj.GetAPIVersion(), err)
	}
	return nil
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
