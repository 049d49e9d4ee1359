// Package window computes apply windows: recurring spans of time, each opening at the firings
// of a cron schedule in a time zone and staying open for a duration, in which agents may
// (allow) or may not (deny) receive new deployment objects. A window is open at t when some
// firing f has f ≤ t < f + duration; openings that overlap or touch form one open span.
// Daylight-saving transitions follow github.com/robfig/cron/v3: a wall-clock time that a
// spring-forward day skips does not fire that day, and one that a fall-back day repeats fires
// twice.
package window

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
)

// Window kinds.
const (
	// Allow windows: the agents they select receive new objects only while one of them is open.
	Allow = "allow"
	// Deny windows: the agents they select receive no new objects while one of them is open.
	Deny = "deny"
)

const (
	// MaxDuration is the longest a window stays open after each firing.
	MaxDuration = 31 * 24 * time.Hour
	// Horizon is how far ahead openings and closings are looked for; beyond it they count as
	// unknown (the zero time).
	Horizon = 400 * 24 * time.Hour

	maxNameBytes  = 255
	maxLabelBytes = 64
)

// Selector selects agents: those carrying every label and every annotation (key and value)
// it names. An empty selector selects every agent.
type Selector struct {
	Labels      []string
	Annotations map[string]string
}

// Matches reports whether an agent with these labels and annotations is selected.
func (s Selector) Matches(labels []string, annotations map[string]string) bool {
	for _, l := range s.Labels {
		if !slices.Contains(labels, l) {
			return false
		}
	}
	for k, v := range s.Annotations {
		if got, ok := annotations[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Window is one validated apply window. Its methods are safe for concurrent use; it keeps the
// open spans it computed.
type Window struct {
	ID       uuid.UUID
	Name     string
	Kind     string // Allow or Deny
	Selector Selector
	// Stacks limits the window to these stacks; empty means every stack.
	Stacks   []uuid.UUID
	Schedule string
	Duration time.Duration
	// TimeZone is the IANA name of the zone the schedule reads in.
	TimeZone string

	sched *cron.SpecSchedule
	loc   *time.Location
	day   dayPattern
	spans *spanCache
}

// Error is a window that cannot be: Field names the offending setting (as the API calls
// it), Message says why.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// New validates an apply window: a name (not blank, at most 255 bytes); a schedule in the
// standard five cron fields (minute hour day-of-month month day-of-week) or a descriptor
// such as @daily (not @every, and without a time zone prefix) that fires at least once; a
// duration of whole seconds above 0 and at most 31 days; an IANA time zone ("" is UTC); kind
// "allow" or "deny"; selector labels and annotation keys not blank, without whitespace, at
// most 64 bytes (values at most 64 bytes); stacks without the nil id or repetitions. Errors
// are *Error.
func New(id uuid.UUID, name, schedule string, duration time.Duration, timeZone, kind string, sel Selector, stacks []uuid.UUID) (*Window, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if kind != Allow && kind != Deny {
		return nil, invalid("kind", "must be %q or %q, not %q", Allow, Deny, kind)
	}
	switch {
	case duration <= 0:
		return nil, invalid("duration", "must be above 0, not %s", duration)
	case duration > MaxDuration:
		return nil, invalid("duration", "must be at most 31 days (744h), not %s", duration)
	case duration%time.Second != 0:
		return nil, invalid("duration", "must be whole seconds, not %s", duration)
	}
	if timeZone == "" {
		timeZone = "UTC"
	}
	loc, err := loadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	sched, err := parseSchedule(schedule)
	if err != nil {
		return nil, err
	}
	sched.Location = loc
	if err := checkSelector(sel); err != nil {
		return nil, err
	}
	if err := checkStacks(stacks); err != nil {
		return nil, err
	}
	w := &Window{
		ID: id, Name: name, Kind: kind, Selector: cloneSelector(sel), Stacks: slices.Clone(stacks),
		Schedule: schedule, Duration: duration, TimeZone: timeZone,
		sched: sched, loc: loc, spans: &spanCache{},
	}
	w.day = newDayPattern(sched, duration)
	if w.day.empty() || sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
		return nil, invalid("schedule", "%q never fires", schedule)
	}
	return w, nil
}

func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return invalid("name", "must not be blank")
	case len(name) > maxNameBytes:
		return invalid("name", "must be at most %d bytes", maxNameBytes)
	}
	return nil
}

// loadLocation reads an IANA zone. "Local" is refused: it would depend on the machine.
func loadLocation(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, invalid("time_zone", "must be an IANA time zone name such as Europe/Berlin, not Local")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid("time_zone", "unknown time zone %q (want an IANA name such as Europe/Berlin)", name)
	}
	return loc, nil
}

// parseSchedule reads a standard cron schedule. Time zone prefixes are refused (the window
// has its own), and so is @every, whose firings depend on when it is asked rather than on
// the clock.
func parseSchedule(schedule string) (s *cron.SpecSchedule, err error) {
	trimmed := strings.TrimSpace(schedule)
	switch {
	case trimmed == "":
		return nil, invalid("schedule", "must not be blank")
	case strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ="):
		return nil, invalid("schedule", "must not carry a time zone: set time_zone instead")
	case strings.HasPrefix(trimmed, "@every"):
		return nil, invalid("schedule", "@every is not supported: use five cron fields or @hourly, @daily, @weekly, @monthly, @yearly")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, invalid("schedule", "%q is not a cron schedule", schedule)
		}
	}()
	parsed, perr := cron.ParseStandard(schedule)
	if perr != nil {
		return nil, invalid("schedule", "%q is not a cron schedule of five fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily: %v", schedule, perr)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, invalid("schedule", "%q is not a calendar schedule", schedule)
	}
	return spec, nil
}

// checkWord validates a label or an annotation key.
func checkWord(field, what, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return invalid(field, "%s must not be blank", what)
	case len(s) > maxLabelBytes:
		return invalid(field, "%s %q must be at most %d bytes", what, s, maxLabelBytes)
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return invalid(field, "%s %q must not contain whitespace", what, s)
	}
	return nil
}

// maxSelectorKeys bounds the labels and the annotations a window selects agents by, and
// maxStacks the stacks it names.
const (
	maxSelectorKeys = 32
	maxStacks       = 1000
)

func checkSelector(sel Selector) error {
	if len(sel.Labels) > maxSelectorKeys || len(sel.Annotations) > maxSelectorKeys {
		return invalid("selector", "names more than %d labels or annotations", maxSelectorKeys)
	}
	for _, l := range sel.Labels {
		if err := checkWord("selector.labels", "label", l); err != nil {
			return err
		}
	}
	for k, v := range sel.Annotations {
		if err := checkWord("selector.annotations", "annotation key", k); err != nil {
			return err
		}
		if len(v) > maxLabelBytes {
			return invalid("selector.annotations", "the value of annotation %q must be at most %d bytes", k, maxLabelBytes)
		}
	}
	return nil
}

func checkStacks(stacks []uuid.UUID) error {
	if len(stacks) > maxStacks {
		return invalid("stack_ids", "names more than %d stacks", maxStacks)
	}
	seen := make(map[uuid.UUID]bool, len(stacks))
	for _, s := range stacks {
		if s == uuid.Nil {
			return invalid("stack_ids", "must not contain the nil id")
		}
		if seen[s] {
			return invalid("stack_ids", "lists %s twice", s)
		}
		seen[s] = true
	}
	return nil
}

func cloneSelector(sel Selector) Selector {
	out := Selector{Labels: slices.Clone(sel.Labels)}
	if len(sel.Annotations) > 0 {
		out.Annotations = make(map[string]string, len(sel.Annotations))
		for k, v := range sel.Annotations {
			out.Annotations[k] = v
		}
	}
	return out
}

// Applies reports whether the window concerns an agent with these labels and annotations for
// the stack: its selector selects the agent, and it names the stack or no stack at all.
func (w *Window) Applies(labels []string, annotations map[string]string, stack uuid.UUID) bool {
	if len(w.Stacks) > 0 && !slices.Contains(w.Stacks, stack) {
		return false
	}
	return w.Selector.Matches(labels, annotations)
}

// Location is the time zone the schedule reads in.
func (w *Window) Location() *time.Location { return w.loc }

// spanCache keeps the open spans a window computed, newest last, so that the many agents
// asking about the same instant, or about successive instants, do not compute them again.
type spanCache struct {
	mu    sync.Mutex
	spans []span
}

// maxCachedSpans bounds the spans a window keeps.
const maxCachedSpans = 16
