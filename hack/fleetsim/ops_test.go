package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestParseOps(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{in: defaultOps, want: defaultOps},
		{in: "target-state,heartbeat", want: "target-state,heartbeat"},
		{in: " heartbeat , target-state ,", want: "target-state,heartbeat"},
		{in: "agent-status,pending-work-orders,pending-diagnostics", want: "status,work-orders,diagnostics"},
		{in: "heartbeat,heartbeat", want: "heartbeat"},
		{in: "target-state,event", want: "target-state,event"},
		{in: "event", err: "event needs target-state"},
		{in: "", err: "no operation"},
		{in: " , ", err: "no operation"},
		{in: "target-state,channel-dial", err: `unknown operation "channel-dial"`},
		{in: "targetstate", err: `unknown operation "targetstate"`},
	} {
		o, err := parseOps(c.in)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseOps(%q) = %v, %v; want error %q", c.in, o, err, c.err)
			}
		case err != nil || o.String() != c.want:
			t.Errorf("parseOps(%q) = %q, %v; want %q", c.in, o.String(), err, c.want)
		}
	}
	if o, _ := parseOps("target-state,heartbeat"); o != (Ops{TargetState: true, Heartbeat: true}) {
		t.Errorf("target-state,heartbeat = %+v", o)
	}
	if _, err := withDefaults(Config{Agents: 1, Interval: time.Second, Duration: time.Second, Conns: 1, SetupWorkers: 1,
		Ops: Ops{TargetState: true}, Distribute: true}); err == nil {
		t.Error("-distribute without the event operation was accepted")
	}
	if _, err := withDefaults(Config{Agents: 1, Interval: time.Second, Duration: time.Second, Conns: 1, SetupWorkers: 1, Pgbench: true}); err == nil {
		t.Error("-pgbench without a database URL was accepted")
	}
}

// TestOnlyTheChosenOps runs target-state and heartbeat only, as the fleet goals do, and
// reads the broker's CPU per request and per poll.
func TestOnlyTheChosenOps(t *testing.T) {
	b := servertest.Start(t)
	r, err := Run(context.Background(), Config{
		URL: b.URL, AdminPAK: b.AdminPAK, Agents: 10, Interval: 250 * time.Millisecond, Duration: 2 * time.Second,
		Conns: 4, Ops: Ops{TargetState: true, Heartbeat: true}, Prefix: "ops", SetupWorkers: 4, BrokerPID: os.Getpid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.Throttled != 0 || r.CycleOps != "target-state,heartbeat" {
		t.Fatalf("errors %d, 429s %d, ops %q: %+v", r.Errors, r.Throttled, r.CycleOps, r.Ops)
	}
	for _, o := range r.Ops {
		ran := o.Op == opTargetState || o.Op == opHeartbeat
		if ran != (o.Count > 0) {
			t.Errorf("operation %s: %d requests", o.Op, o.Count)
		}
	}
	// 10 agents, 8 intervals: about 80 cycles, each one target state and one heartbeat
	if r.Polls < 50 || r.Polls > 90 || r.Requests < 2*r.Polls || r.Requests > 2*r.Polls+20 {
		t.Errorf("%d polls, %d requests", r.Polls, r.Requests)
	}
	if r.OfferedPerS != 40 || r.PollsPerS <= 0 {
		t.Errorf("offered %v polls/s, ran %v/s", r.OfferedPerS, r.PollsPerS)
	}
	if r.Admitted.P50 <= 0 || r.Admitted.Max < r.Admitted.P99 || r.ScheduleLag.Max <= 0 {
		t.Errorf("admitted %+v, schedule lag %+v", r.Admitted, r.ScheduleLag)
	}
	br := r.Broker
	if br == nil || br.CPUS <= 0 || br.USPerRequest <= 0 || br.USPerPoll <= br.USPerRequest {
		t.Fatalf("broker %+v", br)
	}
	if got := br.CPUS * 1e6 / float64(r.Requests); got < br.USPerRequest*0.9 || got > br.USPerRequest*1.1 {
		t.Errorf("µs per request %v, CPU %v s over %d requests", br.USPerRequest, br.CPUS, r.Requests)
	}
	if s := r.Simulator; s == nil || s.PID != os.Getpid() || s.CPUS <= 0 || s.RSSMiB <= 0 {
		t.Errorf("simulator %+v", s)
	}
	var table bytes.Buffer
	if err := writeTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"each cycle: target-state,heartbeat (conditional target state)", "µs per poll", "simulator pid"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// TestOverloadRefusals runs more requests at once than the broker admits: the refusals are
// 429s with Retry-After, counted apart from the admitted requests' latencies.
func TestOverloadRefusals(t *testing.T) {
	b := servertest.New(t, servertest.Options{Configure: func(c *config.Broker) {
		c.Broker.MaxInflightRequests = 1
		c.Broker.MaxQueueWaitMillis = 1
	}})
	var r Report
	var err error
	for range 3 { // the refusals depend on requests meeting; a quiet machine may need another go
		r, err = Run(context.Background(), Config{
			URL: b.URL, AdminPAK: b.AdminPAK, Agents: 60, Interval: 100 * time.Millisecond, Duration: 1500 * time.Millisecond,
			Conns: 32, Ops: Ops{TargetState: true, Heartbeat: true}, Prefix: "overload", Reuse: true,
			FleetFile: t.TempDir() + "/fleet.json", SetupWorkers: 1,
		})
		if err != nil || r.Throttled > 0 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Throttled == 0 || r.ThrottledNoRetryAfter != 0 || r.Errors != 0 {
		t.Fatalf("429s %d (%d without Retry-After), errors %d: %+v", r.Throttled, r.ThrottledNoRetryAfter, r.Errors, r.Ops)
	}
	var perOp uint64
	for _, o := range r.Ops {
		perOp += o.Throttled
	}
	if perOp != r.Throttled || r.Refused.P50 <= 0 || r.Admitted.P50 <= 0 {
		t.Errorf("429s per operation %d of %d; refused %+v, admitted %+v", perOp, r.Throttled, r.Refused, r.Admitted)
	}
	var table bytes.Buffer
	if err := writeTable(&table, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "with Retry-After, 0 without") || !strings.Contains(table.String(), "429 no RA") {
		t.Errorf("table:\n%s", table.String())
	}
}

// TestRefusalsWithoutRetryAfter counts a 429 without the header apart.
func TestRefusalsWithoutRetryAfter(t *testing.T) {
	s := newStats()
	ctx := context.Background()
	refuse := func(after time.Duration) func() error {
		return func() error { return &client.Error{StatusCode: 429, RetryAfter: after} }
	}
	_ = s.time(ctx, opHeartbeat, refuse(2*time.Second))
	_ = s.time(ctx, opHeartbeat, refuse(0))
	_ = s.time(ctx, opHeartbeat, refuse(0))
	_ = s.time(ctx, opHeartbeat, func() error { return &client.Error{StatusCode: 500} })
	_ = s.time(ctx, opHeartbeat, func() error { return errors.New("connection refused") })
	_ = s.time(ctx, opHeartbeat, func() error { return nil })
	r := buildReport(Config{Agents: 1, Interval: time.Second, Ops: Ops{Heartbeat: true}}, s, time.Second)
	if r.Throttled != 3 || r.ThrottledNoRetryAfter != 2 || r.Errors != 2 || r.Requests != 6 {
		t.Fatalf("%+v", r)
	}
	// admitted: the 500 and the success; the connection failure was never answered
	if s.admitted.Count() != 2 || s.refused.Count() != 3 {
		t.Errorf("admitted %d, refused %d", s.admitted.Count(), s.refused.Count())
	}
}
