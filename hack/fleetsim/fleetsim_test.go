package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestFleetAgainstRealBroker runs 20 simulated agents with channels for 2 s against a
// real broker and distributes one deployment object to all of them.
func TestFleetAgainstRealBroker(t *testing.T) {
	b := servertest.Start(t)
	cfg := Config{
		URL: b.URL, AdminPAK: b.AdminPAK, Agents: 20, Interval: 500 * time.Millisecond, Duration: 2 * time.Second,
		Conns: 8, Channel: true, Channels: -1, Distribute: true, DistributeAt: 700 * time.Millisecond,
		DistTimeout: 10 * time.Second, Prefix: "simtest", SetupWorkers: 4, BrokerPID: os.Getpid(),
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.Throttled != 0 {
		t.Fatalf("errors %d, 429s %d: %+v", r.Errors, r.Throttled, r.Ops)
	}
	for _, o := range r.Ops {
		if o.Count == 0 || o.P50 <= 0 || o.Max < o.P99 {
			t.Errorf("operation %s: %+v", o.Op, o)
		}
	}
	d := r.Distribution
	if d == nil || !d.Complete || d.Reported != 20 || d.AllMs <= 0 || d.AllMs != d.Latency.Max {
		t.Fatalf("distribution %+v", d)
	}
	// the channel pushed the object: every agent reported it well before its next poll
	// could have made up for a missing push
	if d.AllMs > 5000 {
		t.Errorf("distribution took %v ms", d.AllMs)
	}
	// every agent reported the object the broker holds as its latest
	evs := b.Events(t, mustAgentID(t, b, "simtest-000019"))
	if len(evs) != 2 || evs[0].DeploymentObjectID.String() != d.Object || evs[0].Status != "SUCCESS" {
		t.Fatalf("events of the last agent: %+v", evs)
	}
	if r.Broker == nil || r.Broker.CPUPercent <= 0 || r.Broker.RSSMiB <= 0 {
		t.Errorf("process sample %+v", r.Broker)
	}

	var table, js bytes.Buffer
	if err := writeTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"target-state", "pending-diagnostics", "distribution: all 20 agents"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := writeJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Distribution.Reported != 20 || len(back.Ops) != len(opOrder) {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
}

// TestChannelFlood counts heartbeat frames the broker takes over the channels.
func TestChannelFlood(t *testing.T) {
	b := servertest.Start(t)
	r, err := Run(context.Background(), Config{
		URL: b.URL, AdminPAK: b.AdminPAK, Agents: 4, Interval: time.Second, Duration: time.Second,
		Conns: 4, Channel: true, Channels: -1, Flood: true, Prefix: "flood", SetupWorkers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Flood == nil || r.Flood.Frames == 0 || r.Errors != 0 {
		t.Fatalf("flood %+v, errors %d: %+v", r.Flood, r.Errors, r.Ops)
	}
}

func mustAgentID(t *testing.T, b *servertest.Broker, name string) uuid.UUID {
	t.Helper()
	a, err := b.Admin.Agents().Search(context.Background(), name, strings.Replace(name, "simtest-", "simtest-cluster-", 1))
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}
