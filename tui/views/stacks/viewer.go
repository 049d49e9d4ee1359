package stacks

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// vkind tells how a viewer line is drawn.
type vkind int8

const (
	vText vkind = iota // a numbered YAML line
	vNote              // a remark, not content
	vHunk              // a diff hunk header
	vSame              // an unchanged diff line
	vAdd               // an added diff line
	vDel               // a removed diff line
)

type viewLine struct {
	kind vkind
	num  int
	text string
}

// viewer is a scrollable text: a YAML document or a diff.
type viewer struct {
	title  string
	lines  []viewLine
	numW   int // width of the line numbers of a YAML view
	off    int // first line shown
	xoff   int // first column shown
	height int // body rows at the last render
}

// yamlViewer shows a deployment object's YAML with line numbers.
func yamlViewer(st client.Stack, o client.DeploymentObject) *viewer {
	v := &viewer{title: fmt.Sprintf("YAML %s #%s · %s · sha256 %s", st.Name, seqText(o.SequenceID), ui.ShortID(o.ID), shortSum(o.YAMLChecksum, 12)), height: 20}
	lines := splitLines(o.YAMLContent)
	for i, l := range lines {
		v.lines = append(v.lines, viewLine{kind: vText, num: i + 1, text: cleanLine(l)})
	}
	switch {
	case len(lines) == 0 && o.IsDeletionMarker:
		v.lines = append(v.lines, viewLine{kind: vNote, text: "(deletion marker: no content)"})
	case len(lines) == 0:
		v.lines = append(v.lines, viewLine{kind: vNote, text: "(empty)"})
	}
	v.numW = len(fmt.Sprint(len(lines)))
	return v
}

// diffViewer shows the unified diff of two deployment objects' YAML, old first.
func diffViewer(st client.Stack, old, cur client.DeploymentObject) *viewer {
	hs := diffHunks(old.YAMLContent, cur.YAMLContent, 3)
	adds, dels := 0, 0
	for _, h := range hs {
		for _, l := range h.Lines {
			switch l.Kind {
			case opInsert:
				adds++
			case opDelete:
				dels++
			}
		}
	}
	v := &viewer{title: fmt.Sprintf("diff %s #%s → #%s · +%d −%d", st.Name, seqText(old.SequenceID), seqText(cur.SequenceID), adds, dels), height: 20}
	v.lines = append(v.lines,
		viewLine{kind: vNote, text: fmt.Sprintf("--- #%s %s sha256 %s", seqText(old.SequenceID), ui.ShortID(old.ID), shortSum(old.YAMLChecksum, 12))},
		viewLine{kind: vNote, text: fmt.Sprintf("+++ #%s %s sha256 %s", seqText(cur.SequenceID), ui.ShortID(cur.ID), shortSum(cur.YAMLChecksum, 12))})
	if len(hs) == 0 {
		v.lines = append(v.lines, viewLine{kind: vNote, text: "(no differences)"})
	}
	for _, h := range hs {
		v.lines = append(v.lines, viewLine{kind: vHunk, text: h.Header()})
		for _, l := range h.Lines {
			k := vSame
			switch l.Kind {
			case opInsert:
				k = vAdd
			case opDelete:
				k = vDel
			}
			v.lines = append(v.lines, viewLine{kind: k, text: cleanLine(l.Text)})
		}
	}
	return v
}

// key scrolls the viewer.
func (v *viewer) key(k tea.KeyPressMsg) {
	off, scrolled := ui.ScrollKey(k, v.off, max(v.height, 1), len(v.lines))
	switch {
	case scrolled:
		v.off = off
	case key.Matches(k, keyLeft):
		v.xoff = max(v.xoff-8, 0)
	case key.Matches(k, keyRight):
		v.xoff += 8
	}
	v.clamp()
}

func (v *viewer) clamp() {
	v.off = max(min(v.off, len(v.lines)-max(v.height, 1)), 0)
}

// render draws the viewer: a title line, then the lines from the scroll position.
func (v *viewer) render(s *ui.Styles, width, height int) string {
	if height <= 0 || width <= 0 {
		return ""
	}
	v.height = max(height-1, 1)
	v.clamp()
	end := min(v.off+v.height, len(v.lines))
	pos := fmt.Sprintf(" %d-%d/%d", min(v.off+1, end), end, len(v.lines))
	if v.xoff > 0 {
		pos = fmt.Sprintf(" col %d ·", v.xoff+1) + pos
	}
	titleW := max(width-ansi.StringWidth(pos), 0)
	out := []string{ui.Fit(s.Title.Render(ui.Fit(v.title, titleW))+s.Muted.Render(pos), width)}
	for i := v.off; i < end; i++ {
		out = append(out, v.line(s, v.lines[i], width))
	}
	return ui.Frame(out, width, height)
}

func (v *viewer) line(s *ui.Styles, l viewLine, width int) string {
	cut := func(t string, w int) string {
		if v.xoff > 0 {
			t = ansi.TruncateLeft(t, v.xoff, "")
		}
		return ui.Fit(t, w)
	}
	switch l.kind {
	case vText:
		g := fmt.Sprintf("%*d │ ", v.numW, l.num)
		gw := ansi.StringWidth(g)
		if gw >= width {
			return s.Muted.Render(ui.Fit(g, width))
		}
		return s.Muted.Render(g) + cut(l.text, width-gw)
	case vNote:
		return s.Muted.Render(ui.Fit(l.text, width))
	case vHunk:
		return s.Key.Render(ui.Fit(l.text, width))
	case vAdd:
		return s.Good.Render("+ " + cut(l.text, width-2))
	case vDel:
		return s.Bad.Render("- " + cut(l.text, width-2))
	}
	return "  " + cut(l.text, width-2)
}
