// Command brokkr-agent runs in a Kubernetes cluster and applies the cluster's target state
// from a brokkr broker.
package main

import (
	"os"

	"github.com/brokkr/brokkr/agent"
)

func main() { os.Exit(agent.Main()) }
