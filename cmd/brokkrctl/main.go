// Command brokkrctl is the command-line client of the brokkr broker.
package main

import (
	"os"

	"github.com/brokkr/brokkr/cli"
)

func main() { os.Exit(int(cli.Main())) }
