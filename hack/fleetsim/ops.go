package main

import (
	"fmt"
	"strings"
)

// The report's rows: the operations measured, in the order of the report.
const (
	opTargetState = "target-state"
	opHeartbeat   = "heartbeat"
	opSelf        = "agent-status"
	opWorkOrders  = "pending-work-orders"
	opDiagnostics = "pending-diagnostics"
	opEvent       = "event"
	opChannelDial = "channel-dial"
)

var opOrder = []string{opTargetState, opHeartbeat, opSelf, opWorkOrders, opDiagnostics, opEvent, opChannelDial}

// cycleOps are the names -ops takes, one per request kind of an agent's cycle, and the row
// of the report each one fills.
var cycleOps = []struct{ name, row string }{
	{"target-state", opTargetState}, // GET /agents/{id}/target-state?mode=full
	{"event", opEvent},              // POST /agents/{id}/events: SUCCESS for each object not reported yet
	{"heartbeat", opHeartbeat},      // POST /agents/{id}/heartbeat
	{"status", opSelf},              // GET /agents/{id}, after a successful heartbeat when both run
	{"work-orders", opWorkOrders},   // GET /agents/{id}/work-orders/pending
	{"diagnostics", opDiagnostics},  // GET /agents/{id}/diagnostics/pending
}

// defaultOps is what brokkr-agent does every interval.
const defaultOps = "target-state,event,heartbeat,status,work-orders,diagnostics"

// Ops is the set of requests every simulated agent makes each cycle.
type Ops struct {
	TargetState, Event, Heartbeat, Status, WorkOrders, Diagnostics bool
}

// parseOps reads -ops: a comma list of cycleOps names (the report's row names are accepted
// too). An event needs the target state it reports on.
func parseOps(s string) (Ops, error) {
	var o Ops
	flags := map[string]*bool{
		"target-state": &o.TargetState, "event": &o.Event, "heartbeat": &o.Heartbeat,
		"status": &o.Status, "work-orders": &o.WorkOrders, "diagnostics": &o.Diagnostics,
	}
	named := false
	for part := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			continue
		}
		for _, c := range cycleOps {
			if name == c.row {
				name = c.name
			}
		}
		f, ok := flags[name]
		if !ok {
			return Ops{}, fmt.Errorf("-ops: unknown operation %q (known: %s)", name, opNames())
		}
		*f, named = true, true
	}
	switch {
	case !named:
		return Ops{}, fmt.Errorf("-ops: no operation (known: %s)", opNames())
	case o.Event && !o.TargetState:
		return Ops{}, fmt.Errorf("-ops: event needs target-state")
	}
	return o, nil
}

// String is the -ops spelling of the set, in cycle order.
func (o Ops) String() string {
	on := []bool{o.TargetState, o.Event, o.Heartbeat, o.Status, o.WorkOrders, o.Diagnostics}
	var names []string
	for i, c := range cycleOps {
		if on[i] {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ",")
}

func opNames() string {
	names := make([]string, len(cycleOps))
	for i, c := range cycleOps {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}
