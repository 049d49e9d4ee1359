package workload

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/brokkr/brokkr/internal/manifest"
)

// knownClusterScoped lists the cluster-scoped kinds of a standard cluster, used when there is
// no mapper or the mapper does not know a kind.
var knownClusterScoped = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                                    true,
	{Group: "", Kind: "Node"}:                                                         true,
	{Group: "", Kind: "PersistentVolume"}:                                             true,
	{Group: "", Kind: "ComponentStatus"}:                                              true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                        true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                               true,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                          true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:                 true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                       true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}:       true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                                   true,
}

// clusterScoped reports whether objects of kind gvk live outside namespaces: as the mapper
// says when it knows the kind, else from the list of standard cluster-scoped kinds.
func clusterScoped(mapper meta.RESTMapper, gvk schema.GroupVersionKind) bool {
	if mapper != nil {
		var versions []string
		if gvk.Version != "" {
			versions = []string{gvk.Version}
		}
		if m, err := mapper.RESTMapping(gvk.GroupKind(), versions...); err == nil {
			return m.Scope.Name() == meta.RESTScopeNameRoot
		}
	}
	return knownClusterScoped[gvk.GroupKind()]
}

// Namespaces returns the distinct metadata.namespace values of the objects of a manifest
// (read as manifest.Documents reads it), in order of first appearance. A namespaced object
// without a namespace counts as fallback ("default" when fallback is empty), where the agent
// applies it. Objects of cluster-scoped kinds (anything the mapper says is cluster-scoped;
// without a mapper, or for kinds it does not know, the standard cluster-scoped kinds such as
// Namespace, CustomResourceDefinition, ClusterRole and ClusterRoleBinding) contribute
// nothing; the items of a list document count one by one. The result is never empty: a
// manifest that yields no namespace, or that the agent cannot read, gives [fallback].
func Namespaces(content string, fallback string, mapper meta.RESTMapper) []string {
	if fallback == "" {
		fallback = "default"
	}
	docs, err := manifest.Documents(content)
	if err != nil {
		return []string{fallback}
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range docs {
		objs, err := d.Objects()
		if err != nil {
			return []string{fallback}
		}
		for _, obj := range objs {
			ns, ok := objectNamespace(obj, fallback, mapper)
			if ok && !seen[ns] {
				seen[ns] = true
				out = append(out, ns)
			}
		}
	}
	if len(out) == 0 {
		return []string{fallback}
	}
	return out
}

// objectNamespace returns the namespace an object is applied to; false for an object of a
// cluster-scoped kind.
func objectNamespace(obj map[string]any, fallback string, mapper meta.RESTMapper) (string, bool) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		gv = schema.GroupVersion{}
	}
	if kind != "" && clusterScoped(mapper, gv.WithKind(kind)) {
		return "", false
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		if s, ok := md["namespace"].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s), true
		}
	}
	return fallback, true
}
