package kube_test

import (
	"testing"

	"github.com/brokkr/brokkr/agent/kube"
)

func TestRequestSpanName(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces":                                                    "GET namespaces",
		"/api/v1/namespaces/team-a":                                             "GET namespaces",
		"/api/v1/namespaces/team-a/status":                                      "GET namespaces/status",
		"/api/v1/namespaces/team-a/configmaps":                                  "GET configmaps",
		"/api/v1/namespaces/team-a/configmaps/settings":                         "GET configmaps",
		"/api/v1/namespaces/team-a/pods/web-0/log":                              "GET pods/log",
		"/apis/apps/v1/namespaces/team-a/deployments/web":                       "GET deployments",
		"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.example.com": "GET customresourcedefinitions",
		"/apis/apps/v1": "GET discovery",
		"/api/v1":       "GET discovery",
		"/apis":         "GET /apis",
		"/version":      "GET /version",
		"/openapi/v3/x": "GET /openapi",
	} {
		if got := kube.RequestSpanName("GET", path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}
