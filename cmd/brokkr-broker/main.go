// Command brokkr-broker is the brokkr hub: the REST API agents, generators and operators use.
package main

import (
	"os"

	"github.com/brokkr/brokkr/server"
)

func main() { os.Exit(server.Main()) }
