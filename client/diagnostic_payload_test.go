package client

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDiagnosticPayloadWireForm(t *testing.T) {
	reason, one := "CrashLoopBackOff", int32(1)
	at := time.Date(2026, 3, 14, 11, 58, 0, 5, time.UTC)
	pods := []DiagnosticPod{{
		Name: "web", Namespace: "shop", Phase: "Running",
		Conditions: []DiagnosticPodCondition{{ConditionType: "Ready", Status: "False", Reason: &reason}},
		Containers: []DiagnosticContainer{{Name: "app", RestartCount: 7, State: ContainerWaiting, StateReason: &reason}},
	}}
	events := []DiagnosticEvent{{Reason: &reason, InvolvedObject: "web", FirstTimestamp: &at, LastTimestamp: &at, Count: &one}}
	wantPods := `[{"name":"web","namespace":"shop","phase":"Running",` +
		`"conditions":[{"condition_type":"Ready","status":"False","reason":"CrashLoopBackOff","message":null}],` +
		`"containers":[{"name":"app","ready":false,"restart_count":7,"state":"Waiting","state_reason":"CrashLoopBackOff","state_message":null}]}]`
	wantEvents := `[{"event_type":null,"reason":"CrashLoopBackOff","message":null,"involved_object":"web","involved_object_kind":null,` +
		`"first_timestamp":"2026-03-14T11:58:00.000000005Z","last_timestamp":"2026-03-14T11:58:00.000000005Z","count":1}]`
	for name, c := range map[string]struct {
		v    any
		want string
	}{"pods": {pods, wantPods}, "events": {events, wantEvents}} {
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %s (%v)\nwant %s", name, b, err, c.want)
		}
	}

	res := DiagnosticResult{PodStatuses: wantPods, Events: wantEvents}
	gotPods, err := res.DecodePods()
	if err != nil || len(gotPods) != 1 || gotPods[0].Containers[0].RestartCount != 7 || *gotPods[0].Conditions[0].Reason != reason {
		t.Fatalf("pods %+v (%v)", gotPods, err)
	}
	gotEvents, err := res.DecodeEvents()
	if err != nil || len(gotEvents) != 1 || !gotEvents[0].LastTimestamp.Equal(at) || *gotEvents[0].Count != 1 || gotEvents[0].Error != nil {
		t.Fatalf("events %+v (%v)", gotEvents, err)
	}
}

func TestFailedDiagnosticResult(t *testing.T) {
	at := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	res := FailedDiagnosticResult(`pods is forbidden: <user> "x"`, at)
	want, _ := json.Marshal([]map[string]string{{"error": `pods is forbidden: <user> "x"`}})
	if res.PodStatuses != "[]" || res.Events != string(want) || res.LogTails != nil || !res.CollectedAt.Equal(at) {
		t.Fatalf("got %+v, want events %s", res, want)
	}
	events, err := DiagnosticResult{Events: res.Events}.DecodeEvents()
	if err != nil || len(events) != 1 || events[0].Error == nil || *events[0].Error != `pods is forbidden: <user> "x"` {
		t.Fatalf("decoded %+v (%v)", events, err)
	}
}

func TestDiagnosticResultDecode(t *testing.T) {
	ptr := func(s string) *string { return &s }
	cases := []struct {
		name                     string
		pods, events             string
		logs                     *string
		podsOK, eventsOK, logsOK bool
		noLogs                   bool
	}{
		{name: "empty strings", logs: ptr(""), podsOK: false, eventsOK: false, logsOK: false},
		{name: "nulls", pods: "null", events: "null", logs: ptr("null"), podsOK: true, eventsOK: true, logsOK: true, noLogs: true},
		{name: "absent log tails", pods: "[]", events: "[]", podsOK: true, eventsOK: true, logsOK: true, noLogs: true},
		{name: "wrong element types", pods: `[1, "x"]`, events: `[[]]`, logs: ptr(`{"a": 1}`)},
		{name: "wrong field types", pods: `[{"name": 5}]`, events: `[{"count": "many"}]`, logs: ptr(`{"a": ["x"]}`)},
		{name: "timestamp not a string", pods: "[]", events: `[{"last_timestamp": 5}]`, logs: ptr("{}"), podsOK: true, logsOK: true},
		{name: "odd timestamps", pods: "[]", events: `[{"last_timestamp":"yesterday","first_timestamp":""}]`, logs: ptr(`{"p/c":"x"}`), podsOK: true, eventsOK: true, logsOK: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := DiagnosticResult{PodStatuses: c.pods, Events: c.events, LogTails: c.logs}
			_, perr := r.DecodePods()
			events, eerr := r.DecodeEvents()
			tails, lerr := r.DecodeLogTails()
			if (perr == nil) != c.podsOK || (eerr == nil) != c.eventsOK || (lerr == nil) != c.logsOK {
				t.Fatalf("errors %v / %v / %v", perr, eerr, lerr)
			}
			if c.logsOK && (tails == nil) != c.noLogs {
				t.Fatalf("log tails %v", tails)
			}
			for _, e := range events {
				if e.FirstTimestamp != nil || e.LastTimestamp != nil {
					t.Fatalf("unreadable timestamps read as %v %v", e.FirstTimestamp, e.LastTimestamp)
				}
			}
		})
	}
}
