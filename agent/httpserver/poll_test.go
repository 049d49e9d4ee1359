package httpserver

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPollOutcomes(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg)
	h := New(":0", &agentStatus{}, reg, "1.0.0", nil).Handler()
	before := get(t, h, http.MethodGet, "/metrics").Body.String()
	if !strings.Contains(before, `brokkr_agent_poll_requests_total{status="not_modified"} 0`+"\n") {
		t.Fatal("the not_modified series is not exported before the first 304")
	}

	m.ObservePollNotModified(20 * time.Millisecond)
	m.ObservePollNotModified(40 * time.Millisecond)
	m.ObservePoll(3*time.Second, nil)
	m.ObservePoll(time.Second, errors.New("broker unavailable"))

	body := get(t, h, http.MethodGet, "/metrics").Body.String()
	for _, line := range []string{
		`brokkr_agent_poll_requests_total{status="not_modified"} 2`,
		`brokkr_agent_poll_requests_total{status="success"} 1`,
		`brokkr_agent_poll_requests_total{status="error"} 1`,
		`brokkr_agent_poll_duration_seconds_bucket{le="0.05"} 2`,
		`brokkr_agent_poll_duration_seconds_count 4`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}
