package workorders_test

import (
	"errors"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/workorders"
)

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		timeout int
		want    time.Duration
	}{
		{3600, 3240 * time.Second}, // 10 % = 360 s > 60 s
		{1000, 900 * time.Second},  // 10 % = 100 s
		{1005, 904500 * time.Millisecond},
		{600, 540 * time.Second}, // 10 % = 60 s: both margins agree
		{300, 240 * time.Second}, // 60 s margin wins
		{61, time.Second},
		{60, 0},
		{30, 0},
		{0, 0},
		{-5, 0},
	} {
		if got := workorders.Budget(tc.timeout); got != tc.want {
			t.Errorf("Budget(%d) = %s, want %s", tc.timeout, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	nonRetryable := []string{
		`jobs.batch "x" NotFound`, "configmap not found", "Forbidden: user cannot patch",
		"Unauthorized", "BadRequest", "bad request body", `ConfigMap "x" is invalid: data`,
		"422 Unprocessable Entity", "Conflict: field manager", "some unexpected failure", "",
	}
	retryable := []string{
		"Timeout: request did not complete", "the server is currently unavailable",
		"dial tcp: connection refused", "network is unreachable", "InternalError occurred",
		"429 Too Many Requests", "client-side throttling", "request THROTTLED",
	}
	for _, s := range nonRetryable {
		if workorders.Classify(errors.New(s)) {
			t.Errorf("Classify(%q) = retryable, want non-retryable", s)
		}
	}
	for _, s := range retryable {
		if !workorders.Classify(errors.New(s)) {
			t.Errorf("Classify(%q) = non-retryable, want retryable", s)
		}
	}
	// A permanent marker wins over a transient one.
	for _, s := range []string{
		"timeout waiting for a resource that was not found",
		"connection to the apiserver: Forbidden",
		"invalid value; server unavailable",
		"conflict after internal retry",
	} {
		if workorders.Classify(errors.New(s)) {
			t.Errorf("Classify(%q) = retryable, want non-retryable (permanent marker first)", s)
		}
	}
	if workorders.Classify(nil) {
		t.Error("Classify(nil) = retryable")
	}
}
