package audit

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/brokkr/brokkr/tui/ui"
)

var formKeys = []key.Binding{
	key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab/↓", "next field")),
	key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab/↑", "previous field")),
	key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
	key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "clear all")),
	key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
}

// labelWidth is the width of the form's field labels.
const labelWidth = 14

type field struct {
	label string
	input textinput.Model
}

// form edits the server-side filters of a Query.
type form struct {
	styles *ui.Styles
	fields []field
	focus  int
	err    string
}

// Field order; query and newForm agree on it.
const (
	fAction = iota
	fActorType
	fActorID
	fResourceType
	fResourceID
	fSince
)

func newForm(s *ui.Styles, q Query) *form {
	f := &form{styles: s}
	add := func(label, value, placeholder string) {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = placeholder
		st := textinput.DefaultStyles(true)
		for _, state := range []*textinput.StyleState{&st.Focused, &st.Blurred} {
			state.Text, state.Prompt = lipgloss.NewStyle(), lipgloss.NewStyle()
			state.Placeholder, state.Suggestion = s.Muted, s.Muted
		}
		st.Cursor.Blink = false
		in.SetStyles(st)
		in.SetValue(value)
		f.fields = append(f.fields, field{label: label, input: in})
	}
	add("Action", q.Action, "e.g. webhook.updated or webhook.*")
	add("Actor type", q.ActorType, "admin, agent, generator or system")
	add("Actor ID", q.ActorID, "UUID")
	add("Resource type", q.ResourceType, "e.g. agent, stack, webhook_subscription")
	add("Resource ID", q.ResourceID, "UUID")
	add("Since", q.Since, "e.g. 30m, 2h, 7d")
	f.fields[0].input.Focus()
	return f
}

// query is the form's filters as a Query for the first page.
func (f *form) query() Query {
	v := func(i int) string { return strings.TrimSpace(f.fields[i].input.Value()) }
	return Query{Action: v(fAction), ActorType: v(fActorType), ActorID: v(fActorID),
		ResourceType: v(fResourceType), ResourceID: v(fResourceID), Since: v(fSince)}
}

func (f *form) move(d int) {
	f.fields[f.focus].input.Blur()
	f.focus = (f.focus + d + len(f.fields)) % len(f.fields)
	f.fields[f.focus].input.Focus()
}

// update handles a key other than enter and esc.
func (f *form) update(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "tab", "down":
		f.move(1)
		return nil
	case "shift+tab", "up":
		f.move(-1)
		return nil
	case "ctrl+x":
		for i := range f.fields {
			f.fields[i].input.SetValue("")
		}
		f.err = ""
		return nil
	}
	var cmd tea.Cmd
	f.fields[f.focus].input, cmd = f.fields[f.focus].input.Update(k)
	f.err = ""
	return cmd
}

// height is how many lines the form takes, its border included.
func (f *form) height() int { return len(f.fields) + 4 }

func (f *form) render(width int) string {
	s := f.styles
	inner := max(width-2, 1)
	lines := make([]string, 0, len(f.fields)+2)
	for i := range f.fields {
		fl := &f.fields[i]
		fl.input.SetWidth(max(inner-labelWidth-4, 1))
		mark := "  "
		label := ui.Fit(fl.label, labelWidth)
		if i == f.focus {
			mark = s.Key.Render("> ")
			label = s.Header.Render(label)
		}
		lines = append(lines, ui.Fit(mark+label+" "+fl.input.View(), inner))
	}
	lines = append(lines, "")
	if f.err != "" {
		lines = append(lines, ui.Fit(s.Bad.Render(f.err), inner))
	} else {
		lines = append(lines, ui.Fit(s.Muted.Render("tab next · enter apply · ctrl+x clear all · esc cancel"), inner))
	}
	return ui.Box(s, "server filters", strings.Join(lines, "\n"), width, f.height())
}
