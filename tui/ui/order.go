package ui

import (
	"strings"

	"github.com/brokkr/brokkr/client"
)

// CompareAgents orders agents as the dashboard lists them: by name, then by cluster.
func CompareAgents(a, b client.Agent) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.ClusterName, b.ClusterName)
}
