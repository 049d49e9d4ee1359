package rollouts

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Cells of a progress bar: agents passed, failed, applying (released, no outcome yet) and
// waiting (not released).
const (
	cellPassed   = "█"
	cellFailed   = "x"
	cellApplying = "▒"
	cellWaiting  = "░"
)

// Render draws the rollout view into width×height cells.
func (d *Detail) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	s := d.env.Styles
	now := d.env.Now()
	r := d.rollout
	title := s.Title.Render(ui.Sanitize(d.stack.Name)) + s.Muted.Render(" · rollout")
	if r != nil {
		title += s.Muted.Render(fmt.Sprintf(" %s · object %s", ui.ShortID(r.ID), ui.ShortID(r.DeploymentObjectID)))
		if r.PreviousObjectID != nil {
			title += s.Muted.Render(" (was " + ui.ShortID(*r.PreviousObjectID) + ")")
		}
		title += s.Muted.Render(" · started " + ui.Age(now, r.CreatedAt) + " ago")
	}
	lines := []string{title}
	if d.err != nil {
		text := "cannot load the rollout: " + ui.FirstLine(d.err.Error())
		if d.loaded {
			text = "refresh failed: " + ui.FirstLine(d.err.Error()) + " · data from " + ui.Age(now, d.loadedAt) + " ago"
		}
		lines = append(lines, s.Bad.Render(text))
	}
	switch {
	case !d.loaded && d.err == nil:
		lines = append(lines, s.Muted.Render("loading rollout…"))
	case d.loaded && r == nil:
		lines = append(lines, s.Muted.Render("no rollout yet: a stack with a rollout policy starts one with each new object"))
	case r != nil:
		lines = append(lines, d.statusLine(*r, now))
		if r.Reason != "" {
			lines = append(lines, s.Warn.Render("reason: "+ui.FirstLine(ui.Sanitize(r.Reason))))
		}
		lines = append(lines, d.renderBody(*r, width, height-len(lines))...)
	}
	return ui.Frame(lines, width, height)
}

// statusLine tells where the rollout stands: status, current wave, what it waits for and
// its failures.
func (d *Detail) statusLine(r client.Rollout, now time.Time) string {
	s := d.env.Styles
	parts := []string{StatusText(s, r.Status)}
	if len(r.Waves) > 0 {
		parts = append(parts, fmt.Sprintf("wave %d/%d %s", r.CurrentWave+1, len(r.Waves), waveName(&r, r.CurrentWave)))
	}
	switch r.Status {
	case client.RolloutProgressing:
		if r.NextWaveAt != nil {
			parts = append(parts, "next wave "+In(now, *r.NextWaveAt)+" ("+When(now, *r.NextWaveAt)+")")
		}
	case client.RolloutWaiting:
		parts = append(parts, s.Warn.Render("waiting for promote (P)"))
	case client.RolloutPaused:
		parts = append(parts, s.Warn.Render("nothing is released until resume (u)"))
	case client.RolloutHalted:
		parts = append(parts, s.Bad.Render("too many failures: resume (u) or abort (x)"))
	case client.RolloutCompleted, client.RolloutAborted, client.RolloutSuperseded:
		if r.FinishedAt != nil {
			parts = append(parts, "finished "+ui.Age(now, *r.FinishedAt)+" ago")
		}
	}
	fail := fmt.Sprintf("failures %d of %d allowed", r.Failures, r.FailureLimit)
	if r.Failures > 0 {
		fail = s.Bad.Render(fail)
	}
	parts = append(parts, fail)
	return strings.Join(parts, s.Muted.Render(" · "))
}

var waveColumns = []ui.Column{
	{Title: "WAVE", Width: 14},
	{Title: "STATE", Width: 11},
	{Title: "PROGRESS"},
	{Title: "PASS", Width: 4},
	{Title: "FAIL", Width: 4},
	{Title: "APPLY", Width: 5},
	{Title: "WAIT", Width: 4},
	{Title: "UNLOCKED", Width: 8},
	{Title: "DONE", Width: 5},
}

var agentColumns = []ui.Column{
	{Title: "AGENT"},
	{Title: "WAVE", Width: 12},
	{Title: "STATE", Width: 8},
	{Title: "RELEASED", Width: 8},
	{Title: "MESSAGE"},
}

// renderBody draws the waves, then the agents in what is left of height.
func (d *Detail) renderBody(r client.Rollout, width, height int) []string {
	s := d.env.Styles
	now := d.env.Now()
	if height < 2 {
		return nil
	}
	barW := flexWidth(waveColumns, width)
	cur := -1
	if r.Active() {
		cur = r.CurrentWave
	}
	cells := make([][]string, 0, len(r.Waves))
	for i, w := range r.Waves {
		c := Counts(w)
		bar := Bar(s, c, barW)
		if w.Agents == 0 {
			bar = s.Muted.Render("no agents")
		}
		name := "  " + waveName(&r, w.Index)
		if i == cur {
			name = s.Title.Render("▸ " + waveName(&r, w.Index))
		}
		cells = append(cells, []string{name, WaveStateText(s, w.State), bar,
			countText(s, c.Passed, s.Good), countText(s, c.Failed, s.Bad), countText(s, c.Applying, s.Warn),
			countText(s, c.Waiting, s.Muted), ageText(now, w.UnlockedAt), ageText(now, w.CompletedAt)})
	}
	// The waves take what they need, keeping room for a few agents.
	wavesH := min(len(cells)+1, max(height-4, 2))
	if body := wavesH - 1; cur >= body { // keep the current wave in sight
		cells = cells[cur-body+1:]
	}
	out := strings.Split(ui.Table(s, waveColumns, cells, -1, width, wavesH), "\n")
	agentsH := height - len(out)
	if agentsH < 2 {
		return out
	}
	if len(r.Agents) == 0 {
		return append(out, s.Muted.Render("no agents in this rollout"))
	}
	rows := make([][]string, 0, len(r.Agents))
	for _, a := range r.Agents {
		rows = append(rows, []string{ui.Sanitize(a.AgentName), waveName(&r, a.Wave), AgentStateText(s, a.State),
			ageText(now, a.ReleasedAt), ui.FirstLine(ui.Sanitize(a.Message))})
	}
	d.page = max(agentsH-1, 1)
	return append(out, strings.Split(ui.Table(s, agentColumns, rows, d.cursor, width, agentsH), "\n")...)
}

// WaveCounts are a wave's agents by where they stand.
type WaveCounts struct {
	Passed, Failed, Applying, Waiting, Total int
}

// Counts sorts a wave's agents into passed, failed, applying (released without an outcome
// yet) and waiting (not released).
func Counts(w client.RolloutWaveStatus) WaveCounts {
	return WaveCounts{
		Passed:   w.Passed,
		Failed:   w.Failed,
		Applying: max(w.Released-w.Passed-w.Failed, 0),
		Waiting:  max(w.Agents-w.Released, 0),
		Total:    w.Agents,
	}
}

// Add sums the counts of two waves.
func (c WaveCounts) Add(o WaveCounts) WaveCounts {
	return WaveCounts{c.Passed + o.Passed, c.Failed + o.Failed, c.Applying + o.Applying, c.Waiting + o.Waiting, c.Total + o.Total}
}

// Bar draws counts as a bar of width cells: passed, failed, applying, then waiting. Each
// share gets its cells by largest remainder, and at least one cell when there is room.
func Bar(s *ui.Styles, c WaveCounts, width int) string {
	n := []int{c.Passed, c.Failed, c.Applying, c.Waiting}
	total := c.Passed + c.Failed + c.Applying + c.Waiting
	if total == 0 || width <= 0 {
		return ""
	}
	cells := shares(n, total, width)
	styles := []lipgloss.Style{s.Good, s.Bad, s.Warn, s.Muted}
	glyphs := []string{cellPassed, cellFailed, cellApplying, cellWaiting}
	var b strings.Builder
	for i := range n {
		if cells[i] > 0 {
			b.WriteString(styles[i].Render(strings.Repeat(glyphs[i], cells[i])))
		}
	}
	return ui.Fit(b.String(), width)
}

// shares splits width cells among counts in proportion (largest remainder), giving every
// count above zero at least one cell while the others can spare it.
func shares(n []int, total, width int) []int {
	cells := make([]int, len(n))
	rem := make([]int, len(n))
	used := 0
	for i, v := range n {
		cells[i], rem[i] = v*width/total, v*width%total
		used += cells[i]
	}
	for ; used < width; used++ { // the cells rounding left over go to the largest remainders
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		cells[best]++
		rem[best] = -1
	}
	for i, v := range n { // a count too small for a cell of its own takes one from the largest
		if v == 0 || cells[i] > 0 {
			continue
		}
		big := 0
		for j := range cells {
			if cells[j] > cells[big] {
				big = j
			}
		}
		if cells[big] > 1 {
			cells[big]--
			cells[i]++
		}
	}
	return cells
}

func countText(s *ui.Styles, n int, st lipgloss.Style) string {
	if n == 0 {
		return s.Muted.Render("-")
	}
	return st.Render(strconv.Itoa(n))
}

func ageText(now time.Time, t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ui.Age(now, *t)
}

// StatusStyle is the style of a rollout status: green while it goes on or once done,
// yellow while it waits for an operator, red when halted or aborted.
func StatusStyle(s *ui.Styles, status string) lipgloss.Style {
	switch status {
	case client.RolloutProgressing, client.RolloutCompleted:
		return s.Good
	case client.RolloutWaiting, client.RolloutPaused:
		return s.Warn
	case client.RolloutHalted, client.RolloutAborted:
		return s.Bad
	}
	return s.Muted
}

// StatusText styles a rollout status.
func StatusText(s *ui.Styles, status string) string {
	return StatusStyle(s, status).Render(ui.OrDash(ui.Sanitize(status)))
}

// WaveStateText styles a wave's state.
func WaveStateText(s *ui.Styles, state string) string {
	switch state {
	case client.WaveComplete:
		return s.Good.Render("complete")
	case client.WaveInProgress:
		return s.Warn.Render("in progress")
	}
	return s.Muted.Render(ui.OrDash(ui.Sanitize(state)))
}

// AgentStateText styles an agent's state in a rollout.
func AgentStateText(s *ui.Styles, state string) string {
	switch state {
	case client.RolloutAgentPassed:
		return s.Good.Render(state)
	case client.RolloutAgentFailed:
		return s.Bad.Render(state)
	case client.RolloutAgentApplying, client.RolloutAgentApplied:
		return s.Warn.Render(state)
	}
	return s.Muted.Render(ui.OrDash(ui.Sanitize(state)))
}
