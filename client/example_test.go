package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/brokkr/brokkr/client"
)

// Example shows a generator publishing a new version of a stack's manifests and an
// operator following the fleet live.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.New("https://brokkr.example.com:3000",
		client.WithPAK(os.Getenv("BROKKR_PAK")),
		client.WithUserAgent("deployer/1.0"),
		client.WithTLS(client.TLSOptions{CAFile: "/etc/brokkr/ca.pem"}))
	if err != nil {
		log.Fatal(err)
	}

	me, err := c.Auth().Verify(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if me.Generator == nil {
		log.Fatal("a generator PAK is needed")
	}
	stack, err := c.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: *me.Generator})
	if client.IsConflict(err) {
		log.Fatal("a stack named web exists already")
	}
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Stacks().AddLabel(ctx, stack.ID, "env:prod"); err != nil {
		log.Fatal(err)
	}
	obj, err := c.Stacks().CreateDeploymentObject(ctx, stack.ID, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n", false)
	if err != nil {
		if e, ok := client.AsError(err); ok {
			log.Fatalf("rejected with %s: %s", e.Code, e.Message)
		}
		log.Fatal(err)
	}
	fmt.Println("published version", obj.SequenceID, "checksum", obj.YAMLChecksum)

	// An admin key can watch the fleet.
	fleet, err := c.Live().Fleet(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer fleet.Close()
	for {
		m, err := fleet.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		var rec client.FleetAgentRecord
		if err := m.Decode(&rec); err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.Name, rec.ClusterName, rec.WSConnected)
	}
}
