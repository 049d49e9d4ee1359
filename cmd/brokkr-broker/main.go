// Command brokkr-broker is the brokkr hub: the REST API agents, generators and operators use.
package main

import (
	"os"
	// Apply windows read their schedules in IANA time zones: the broker carries the zone
	// database, so it works on machines and images without one.
	_ "time/tzdata"

	"github.com/brokkr/brokkr/server/brokercmd"
)

func main() { os.Exit(brokercmd.Main()) }
