// Package deploytest checks the Helm charts in deploy/charts against a real Kubernetes API
// server. It has tests only: they lint the charts with helm, render them with the value sets
// an operator would use (broker with an external or an embedded database, agent cluster-wide
// or confined to one namespace), server-side apply every rendered object as a dry run, admit
// the pods the Deployments would create under the "restricted" Pod Security Standard, and
// check through SubjectAccessReviews what the agent's RBAC allows.
//
// The package lives under agent/ because the API server harness, agent/internal/kubetest, is
// internal to the agent. helm comes from the HELM environment variable or is built from
// hack/helm into ~/.cache/brokkr/tools/helm-<key>, the place `make helm-check` uses.
package deploytest
