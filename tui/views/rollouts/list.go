package rollouts

import (
	"fmt"
	"strings"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Render implements ui.View.
func (v *Model) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	if v.detail != nil {
		return v.detail.Render(width, height)
	}
	return v.renderList(width, height)
}

var listColumns = []ui.Column{
	{Title: "STACK"},
	{Title: "STATUS", Width: 11},
	{Title: "WAVE", Width: 16},
	{Title: "PROGRESS"},
	{Title: "PASSED", Width: 9},
	{Title: "FAILED", Width: 6},
	{Title: "UPDATED", Width: 7},
}

func (v *Model) renderList(width, height int) string {
	s := v.env.Styles
	now := v.env.Now()
	rows := v.rows()
	var head string
	switch {
	case !v.loaded && v.loadErr == nil:
		head = s.Muted.Render("loading rollouts…")
	case !v.loaded:
		head = s.Bad.Render("cannot list stacks: " + ui.FirstLine(v.loadErr.Error()))
	default:
		head = s.Title.Render(ui.Plural(len(rows), "rollout"))
		active := 0
		for _, st := range rows {
			if v.known[st.ID].Rollout.Active() {
				active++
			}
		}
		head += s.Muted.Render(fmt.Sprintf(" · %d under way", active))
		if n := v.checked(); n < len(v.stacks) {
			head += s.Muted.Render(fmt.Sprintf(" · %d of %d stacks checked so far", n, len(v.stacks)))
		}
		if v.loadErr != nil {
			head += s.Bad.Render(" · refresh failed: "+ui.FirstLine(v.loadErr.Error())) +
				s.Muted.Render(" · data from "+ui.Age(now, v.loadedAt)+" ago")
		}
	}
	lines := []string{head}
	if fl := v.list.FilterLine(s); fl != "" {
		lines = append(lines, fl)
	}
	tableH := height - len(lines)
	v.tableRows = max(tableH-1, 1)
	if tableH >= 2 && v.loaded {
		barW := flexWidth(listColumns, width)
		cells := make([][]string, 0, len(rows))
		for _, st := range rows {
			cells = append(cells, v.listCells(st, *v.known[st.ID].Rollout, barW))
		}
		lines = append(lines, strings.Split(ui.Table(s, listColumns, cells, v.list.Cursor, width, tableH), "\n")...)
		if len(rows) == 0 {
			switch {
			case v.list.Filter != "":
				lines = append(lines, s.Muted.Render("no rollout matches the filter"))
			default:
				lines = append(lines, s.Muted.Render("no rollout under way or finished in the last 24h: stacks with a rollout policy start one with each new object"))
			}
		}
	}
	return ui.Frame(lines, width, height)
}

// checked counts the stacks whose rollout was looked at.
func (v *Model) checked() int {
	n := 0
	for _, st := range v.stacks {
		if _, ok := v.known[st.ID]; ok {
			n++
		}
	}
	return n
}

func (v *Model) listCells(st client.Stack, r client.Rollout, barW int) []string {
	s := v.env.Styles
	var c WaveCounts
	for _, w := range r.Waves {
		c = c.Add(Counts(w))
	}
	wave := "-"
	if len(r.Waves) > 0 {
		wave = fmt.Sprintf("%d/%d %s", r.CurrentWave+1, len(r.Waves), waveName(&r, r.CurrentWave))
	}
	failed := s.Muted.Render("-")
	if r.Failures > 0 {
		failed = s.Bad.Render(fmt.Sprint(r.Failures))
	}
	updated := ui.Age(v.env.Now(), r.UpdatedAt)
	if p := v.known[st.ID]; p.Err != nil {
		updated = s.Warn.Render(updated + "?")
	}
	return []string{ui.Sanitize(st.Name), StatusText(s, r.Status), wave, Bar(s, c, barW),
		fmt.Sprintf("%d/%d", c.Passed, c.Total), failed, updated}
}

// flexWidth is the width ui.Table gives each column of width 0.
func flexWidth(cols []ui.Column, width int) int {
	fixed, flex := 0, 0
	for _, c := range cols {
		fixed += c.Width + 1
		if c.Width == 0 {
			flex++
		}
	}
	return max((width-fixed)/max(flex, 1), 4)
}
