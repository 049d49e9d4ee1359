package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// The payloads of a diagnostic result are JSON documents carried in strings: pod_statuses
// is an array of DiagnosticPod, events an array of DiagnosticEvent and log_tails an object
// mapping "<pod>/<container>" (or "<namespace>/<pod>/<container>") to the end of that
// container's log.

// Container states of a DiagnosticContainer.
const (
	ContainerRunning    = "Running"
	ContainerWaiting    = "Waiting"
	ContainerTerminated = "Terminated"
)

// DiagnosticPod is one pod of a diagnostic result (an element of pod_statuses).
type DiagnosticPod struct {
	Name       string                   `json:"name"`
	Namespace  string                   `json:"namespace"`
	Phase      string                   `json:"phase"`
	Conditions []DiagnosticPodCondition `json:"conditions"`
	Containers []DiagnosticContainer    `json:"containers"`
}

// DiagnosticPodCondition is one condition of a DiagnosticPod.
type DiagnosticPodCondition struct {
	ConditionType string  `json:"condition_type"`
	Status        string  `json:"status"`
	Reason        *string `json:"reason"`
	Message       *string `json:"message"`
}

// DiagnosticContainer is one container of a DiagnosticPod. State is ContainerRunning,
// ContainerWaiting or ContainerTerminated.
type DiagnosticContainer struct {
	Name         string  `json:"name"`
	Ready        bool    `json:"ready"`
	RestartCount int32   `json:"restart_count"`
	State        string  `json:"state"`
	StateReason  *string `json:"state_reason"`
	StateMessage *string `json:"state_message"`
}

// DiagnosticEvent is one namespace event of a diagnostic result (an element of events).
// An agent that could not collect anything sends a single element with only Error set (see
// FailedDiagnosticResult); Error is absent from every other element.
//
// When decoded, a timestamp that is a string but not an RFC 3339 time reads as unknown (nil).
type DiagnosticEvent struct {
	EventType          *string    `json:"event_type"`
	Reason             *string    `json:"reason"`
	Message            *string    `json:"message"`
	InvolvedObject     string     `json:"involved_object"`
	InvolvedObjectKind *string    `json:"involved_object_kind"`
	FirstTimestamp     *time.Time `json:"first_timestamp"`
	LastTimestamp      *time.Time `json:"last_timestamp"`
	Count              *int32     `json:"count"`
	Error              *string    `json:"error,omitempty"`
}

// UnmarshalJSON reads an event, taking a timestamp string that is not an RFC 3339 time as
// unknown rather than failing the whole payload.
func (e *DiagnosticEvent) UnmarshalJSON(b []byte) error {
	type event DiagnosticEvent // without this method
	var raw struct {
		event
		FirstTimestamp json.RawMessage `json:"first_timestamp"`
		LastTimestamp  json.RawMessage `json:"last_timestamp"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	first, err := lenientTime(raw.FirstTimestamp)
	if err != nil {
		return fmt.Errorf("first_timestamp: %w", err)
	}
	last, err := lenientTime(raw.LastTimestamp)
	if err != nil {
		return fmt.Errorf("last_timestamp: %w", err)
	}
	*e = DiagnosticEvent(raw.event)
	e.FirstTimestamp, e.LastTimestamp = first, last
	return nil
}

// lenientTime reads a JSON timestamp: absent or null is nil, a string that is not an RFC 3339
// time is nil, anything but a string is an error.
func lenientTime(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, nil
	}
	return &t, nil
}

// FailedDiagnosticResult is the result an agent submits when it could not collect anything:
// no pods, a single event carrying only the error, and no log tails.
func FailedDiagnosticResult(message string, collectedAt time.Time) SubmitDiagnosticResult {
	events, _ := json.Marshal([]struct {
		Error string `json:"error"`
	}{{Error: message}})
	return SubmitDiagnosticResult{PodStatuses: "[]", Events: string(events), CollectedAt: collectedAt}
}

// DecodePods reads the pod_statuses payload.
func (r DiagnosticResult) DecodePods() ([]DiagnosticPod, error) {
	var pods []DiagnosticPod
	if err := json.Unmarshal([]byte(r.PodStatuses), &pods); err != nil {
		return nil, fmt.Errorf("pod statuses are not a JSON array of pods: %w", err)
	}
	return pods, nil
}

// DecodeEvents reads the events payload.
func (r DiagnosticResult) DecodeEvents() ([]DiagnosticEvent, error) {
	var events []DiagnosticEvent
	if err := json.Unmarshal([]byte(r.Events), &events); err != nil {
		return nil, fmt.Errorf("events are not a JSON array of events: %w", err)
	}
	return events, nil
}

// DecodeLogTails reads the log_tails payload; it is nil when the agent sent no log tails
// (log_tails absent or JSON null).
func (r DiagnosticResult) DecodeLogTails() (map[string]string, error) {
	if r.LogTails == nil {
		return nil, nil
	}
	var tails map[string]string
	if err := json.Unmarshal([]byte(*r.LogTails), &tails); err != nil {
		return nil, fmt.Errorf("log tails are not a JSON object of logs: %w", err)
	}
	return tails, nil
}
