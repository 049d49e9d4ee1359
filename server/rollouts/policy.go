// Package rollouts is the broker's controller of progressive rollouts: a deployment object
// posted to a stack with a rollout policy reaches the stack's agents wave by wave. Planning
// one step (which agents to release, when a wave is complete, when the next one unlocks,
// when the rollout halts or completes) is pure and goes by the time it is given; the
// Controller reads a rollout's facts from the database, plans, and stores the outcome in
// one transaction with the rollout row locked.
package rollouts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/window"
)

// MaxWaves bounds the waves of a policy.
const MaxWaves = 20

// Bounds of a wave: its name, and the labels and annotations its selector names (agents'
// labels and annotations are at most 64 bytes, so longer ones could never match).
const (
	maxWaveName     = 64
	maxSelectorKeys = 32
	maxSelectorText = 64
)

// Policy defaults.
const (
	defaultGate  = client.GateApplied
	defaultPause = "0s"
)

// Normalize fills the policy-wide defaults: gate applied, pause 0s, failure threshold 0.
// Waves keep their empty gate and pause, which inherit the policy's.
func Normalize(p client.RolloutPolicy) client.RolloutPolicy {
	if p.Gate == "" {
		p.Gate = defaultGate
	}
	if p.Pause == "" {
		p.Pause = defaultPause
	}
	if p.FailureThreshold == "" {
		p.FailureThreshold = "0"
	}
	if p.Waves == nil {
		p.Waves = []client.RolloutWave{}
	}
	return p
}

// Validate says what is wrong with a policy, or nil.
func Validate(p client.RolloutPolicy) error {
	if len(p.Waves) < 1 || len(p.Waves) > MaxWaves {
		return fmt.Errorf("a policy has 1 to %d waves, not %d", MaxWaves, len(p.Waves))
	}
	if err := checkGate("gate", p.Gate); err != nil {
		return err
	}
	if err := checkPause("pause", p.Pause); err != nil {
		return err
	}
	if p.FailureThreshold != "" && !validAmount(p.FailureThreshold, 0, 0) {
		return fmt.Errorf("failure_threshold %q must be a count of at least 0 or a percentage from 0%% to 100%%", string(p.FailureThreshold))
	}
	seen := map[string]bool{}
	for i, w := range p.Waves {
		at := fmt.Sprintf("waves[%d]", i)
		name := strings.TrimSpace(w.Name)
		switch {
		case name == "":
			return fmt.Errorf("%s.name must not be empty", at)
		case name != w.Name:
			return fmt.Errorf("%s.name %q must not start or end with spaces", at, w.Name)
		case name == client.ImplicitWaveName:
			return fmt.Errorf("%s.name %q is the name of the implicit last wave", at, w.Name)
		case seen[name]:
			return fmt.Errorf("%s.name %q is used by another wave", at, w.Name)
		case len(name) > maxWaveName:
			return fmt.Errorf("%s.name is longer than %d bytes", at, maxWaveName)
		}
		seen[name] = true
		if err := checkSelector(at+".selector", w.Selector); err != nil {
			return err
		}
		if err := checkGate(at+".gate", w.Gate); err != nil {
			return err
		}
		if err := checkPause(at+".pause", w.Pause); err != nil {
			return err
		}
		if w.MaxUnavailable != "" && !validAmount(w.MaxUnavailable, 1, 1) {
			return fmt.Errorf("%s.max_unavailable %q must be a count of at least 1 or a percentage from 1%% to 100%%", at, string(w.MaxUnavailable))
		}
	}
	return nil
}

func checkGate(at, gate string) error {
	switch gate {
	case "", client.GateApplied, client.GateHealthy:
		return nil
	}
	return fmt.Errorf("%s %q must be %s or %s", at, gate, client.GateApplied, client.GateHealthy)
}

func checkPause(at, pause string) error {
	if pause == "" || pause == client.PauseManual {
		return nil
	}
	if d, err := time.ParseDuration(pause); err != nil || d < 0 {
		return fmt.Errorf("%s %q must be a duration of at least 0 (such as 10m) or %q", at, pause, client.PauseManual)
	}
	return nil
}

func checkSelector(at string, s client.Selector) error {
	if len(s.Labels) == 0 && len(s.Annotations) == 0 {
		return fmt.Errorf("%s must name labels or annotations", at)
	}
	if len(s.Labels) > maxSelectorKeys || len(s.Annotations) > maxSelectorKeys {
		return fmt.Errorf("%s names more than %d labels or annotations", at, maxSelectorKeys)
	}
	for _, l := range s.Labels {
		switch {
		case strings.TrimSpace(l) == "":
			return fmt.Errorf("%s.labels must not contain empty labels", at)
		case len(l) > maxSelectorText:
			return fmt.Errorf("%s.labels: a label is at most %d bytes", at, maxSelectorText)
		}
	}
	for k, v := range s.Annotations {
		switch {
		case strings.TrimSpace(k) == "":
			return fmt.Errorf("%s.annotations must not have an empty key", at)
		case len(k) > maxSelectorText || len(v) > maxSelectorText:
			return fmt.Errorf("%s.annotations: keys and values are at most %d bytes", at, maxSelectorText)
		}
	}
	return nil
}

// validAmount reports whether v is a count of at least minCount or a percentage of at least
// minPercent and at most 100.
func validAmount(v client.IntOrPercent, minCount int, minPercent float64) bool {
	s := string(v)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		return err == nil && f >= minPercent && f <= 100
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= minCount
}

// waveSettings is what one wave of a rollout goes by, defaults resolved.
type waveSettings struct {
	name           string
	selector       client.Selector
	gate           string
	pause          string
	maxUnavailable client.IntOrPercent
}

// settings returns the waves of a policy, the implicit last one included.
func settings(p client.RolloutPolicy) []waveSettings {
	p = Normalize(p)
	out := make([]waveSettings, 0, len(p.Waves)+1)
	for _, w := range p.Waves {
		s := waveSettings{name: w.Name, selector: w.Selector, gate: w.Gate, pause: w.Pause, maxUnavailable: w.MaxUnavailable}
		if s.gate == "" {
			s.gate = p.Gate
		}
		if s.pause == "" {
			s.pause = p.Pause
		}
		out = append(out, s)
	}
	return append(out, waveSettings{name: client.ImplicitWaveName, gate: p.Gate, pause: p.Pause})
}

// pauseAfter is how long the next wave waits after this one completed; manual is true when
// it waits for promote.
func (w waveSettings) pauseAfter() (d time.Duration, manual bool) {
	if w.pause == client.PauseManual {
		return 0, true
	}
	d, err := time.ParseDuration(w.pause)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, false
}

// WaveOf returns the index of the wave of the policy an agent with these labels and
// annotations belongs to until a rollout releases it: the first wave whose selector matches,
// else the implicit last wave (index len(p.Waves)).
func WaveOf(p client.RolloutPolicy, labels []string, annotations map[string]string) int {
	return waveOf(settings(p), labels, annotations)
}

func waveOf(waves []waveSettings, labels []string, annotations map[string]string) int {
	last := len(waves) - 1
	for i := range last {
		if selects(waves[i].selector, labels, annotations) {
			return i
		}
	}
	return last
}

// selects reports whether the selector matches an agent: every label and every annotation
// key=value it names (apply windows select agents the same way).
func selects(s client.Selector, labels []string, annotations map[string]string) bool {
	return window.Selector{Labels: s.Labels, Annotations: s.Annotations}.Matches(labels, annotations)
}

// ErrInvalidState is returned by an action that does not apply to the rollout's status.
var ErrInvalidState = errors.New("the action does not apply to the rollout's status")

// ErrUnknownAction is returned for an action that is not promote, pause, resume or abort.
var ErrUnknownAction = errors.New("unknown rollout action")

// Rollout actions.
const (
	ActionPromote = "promote"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionAbort   = "abort"
)
