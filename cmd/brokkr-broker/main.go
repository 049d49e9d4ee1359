// Command brokkr-broker is the brokkr hub: the REST API agents, generators and operators use.
package main

import (
	"os"

	"github.com/brokkr/brokkr/server/brokercmd"
)

func main() { os.Exit(brokercmd.Main()) }
