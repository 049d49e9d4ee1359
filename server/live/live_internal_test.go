package live

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/client"
)

func testLiveMetrics() *metrics {
	return &metrics{dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dropped"}, []string{"reason"})}
}

// TestStackSubscriberGap checks that a lagging subscriber loses frames, not the publisher's
// time, and is told where and how many with a synthetic log_gap.
func TestStackSubscriberGap(t *testing.T) {
	stack := uuid.New()
	sub := newStackSub(stack, testLiveMetrics())
	frame := func(i int) []byte {
		return []byte(`{"type":"pod_log_line","body":{"line":"` + strings.Repeat("x", i%7) + `"}}`)
	}
	for i := range subscriberBuffer + 5 {
		sub.offer(frame(i)) // never blocks
	}
	if sub.dropped != 5 {
		t.Fatalf("dropped %d, want 5", sub.dropped)
	}
	<-sub.ch
	<-sub.ch
	next := []byte(`{"type":"pod_log_line","body":{"line":"next"}}`)
	sub.offer(next)
	var got [][]byte
	for len(sub.ch) > 0 {
		got = append(got, <-sub.ch)
	}
	if len(got) != subscriberBuffer {
		t.Fatalf("%d frames queued, want %d", len(got), subscriberBuffer)
	}
	var gap struct {
		Type string        `json:"type"`
		Body client.LogGap `json:"body"`
	}
	if err := json.Unmarshal(got[len(got)-2], &gap); err != nil {
		t.Fatal(err)
	}
	if gap.Type != client.WSLogGap || gap.Body.AgentID != uuid.Nil || gap.Body.StackID != stack ||
		gap.Body.DroppedCount != 5 || gap.Body.Reason != client.GapBufferFull || gap.Body.SinceTS.IsZero() {
		t.Fatalf("gap frame %s", got[len(got)-2])
	}
	if string(got[len(got)-1]) != string(next) {
		t.Fatalf("last frame %s, want the one offered after the gap", got[len(got)-1])
	}
	if sub.dropped != 0 {
		t.Fatalf("dropped %d after the gap was queued", sub.dropped)
	}
}

// TestFanoutParts checks that messages above the NOTIFY payload limit are split into valid
// text parts and reassembled, in any order, by other replicas only.
func TestFanoutParts(t *testing.T) {
	newHub := func() *Hub {
		h := &Hub{replica: uuid.New(), metrics: testLiveMetrics()}
		h.fan.parts = map[string]*partialMessage{}
		return h
	}
	sender, receiver := newHub(), newHub()
	line := strings.Repeat("ünïcödé ✓ ", 4000) // multi-byte characters straddle part boundaries
	body, err := marshalJSON(client.WSMessage{Type: client.WSPodLogLine, Body: json.RawMessage(`{"line":"` + line + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	stack := uuid.New()
	payloads, err := sender.encodePayloads(fanoutMessage{Kind: fanStack, Stack: &stack, Msg: body})
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) < 2 {
		t.Fatalf("%d payloads, want several", len(payloads))
	}
	for _, p := range payloads {
		if len(p) > 8000 || !utf8.ValidString(p) {
			t.Fatalf("payload of %d bytes, valid UTF-8 %v", len(p), utf8.ValidString(p))
		}
		if _, ok := sender.reassemble(p); ok {
			t.Fatal("the sender reassembled its own message")
		}
	}
	// Reverse order: the last part to arrive completes the message.
	var whole string
	for i := len(payloads) - 1; i >= 0; i-- {
		got, ok := receiver.reassemble(payloads[i])
		if ok != (i == 0) {
			t.Fatalf("part %d: complete=%v", i, ok)
		}
		whole = got
	}
	var m fanoutMessage
	if err := json.Unmarshal([]byte(whole), &m); err != nil {
		t.Fatal(err)
	}
	if m.Origin != sender.replica || m.Kind != fanStack || *m.Stack != stack || string(m.Msg) != string(body) {
		t.Fatalf("reassembled %s %s", m.Kind, m.Origin)
	}
	if len(receiver.fan.parts) != 0 {
		t.Fatalf("%d partial messages left", len(receiver.fan.parts))
	}

	huge := json.RawMessage(`"` + strings.Repeat("x", maxFanoutMessage) + `"`)
	if _, err := sender.encodePayloads(fanoutMessage{Kind: fanStack, Msg: huge}); !errors.Is(err, errTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	// Small messages travel whole, and two equal messages still differ (NOTIFY folds duplicates).
	a, _ := sender.encodePayloads(fanoutMessage{Kind: fanFleet, Agents: []uuid.UUID{stack}})
	b, _ := sender.encodePayloads(fanoutMessage{Kind: fanFleet, Agents: []uuid.UUID{stack}})
	if len(a) != 1 || len(b) != 1 || a[0] == b[0] || strings.HasPrefix(a[0], "#") {
		t.Fatalf("small messages %q %q", a, b)
	}
}
