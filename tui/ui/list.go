package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// List is the cursor and filter of a table view. Views keep their rows; List tells which of
// them match the filter and which is selected.
type List struct {
	Cursor  int
	Filter  string
	editing bool
	input   textinput.Model
	page    int
}

// Editing reports that the filter is being typed (the view is capturing keys).
func (l *List) Editing() bool { return l.editing }

// Match reports whether a row's text matches the filter (case-insensitive substring of any
// of the texts; every space-separated word must match).
func (l *List) Match(texts ...string) bool {
	if l.Filter == "" {
		return true
	}
	all := strings.ToLower(strings.Join(texts, " "))
	for _, w := range strings.Fields(strings.ToLower(l.Filter)) {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}

// Clamp keeps the cursor within n rows.
func (l *List) Clamp(n int) {
	if l.Cursor >= n {
		l.Cursor = n - 1
	}
	if l.Cursor < 0 {
		l.Cursor = 0
	}
}

// SetPage sets how many rows a page-up/down moves.
func (l *List) SetPage(n int) { l.page = n }

// Update handles navigation and filter keys for n rows; it reports whether it used the
// message.
func (l *List) Update(msg tea.Msg, n int) (bool, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if l.editing {
			var cmd tea.Cmd
			l.input, cmd = l.input.Update(msg)
			return true, cmd
		}
		return false, nil
	}
	if l.editing {
		switch k.String() {
		case "enter":
			l.editing = false
			l.input.Blur()
			return true, nil
		case "esc":
			l.editing = false
			l.input.Blur()
			l.Filter = ""
			l.input.SetValue("")
			return true, nil
		}
		var cmd tea.Cmd
		l.input, cmd = l.input.Update(msg)
		l.Filter = l.input.Value()
		l.Cursor = 0
		return true, cmd
	}
	page := max(l.page, 1)
	switch {
	case key.Matches(k, KeyUp):
		l.Cursor--
	case key.Matches(k, KeyDown):
		l.Cursor++
	case key.Matches(k, KeyPgUp):
		l.Cursor -= page
	case key.Matches(k, KeyPgDown):
		l.Cursor += page
	case k.String() == "home" || k.String() == "g":
		l.Cursor = 0
	case k.String() == "end" || k.String() == "G":
		l.Cursor = n - 1
	case key.Matches(k, KeyFilter):
		l.editing = true
		l.input = textinput.New()
		l.input.Prompt = "/"
		l.input.SetValue(l.Filter)
		return true, l.input.Focus()
	case key.Matches(k, KeyBack) && l.Filter != "":
		l.Filter = ""
		l.Cursor = 0
	default:
		return false, nil
	}
	l.Clamp(n)
	return true, nil
}

// FilterLine renders the filter prompt while typing, the active filter otherwise ("" when
// there is none).
func (l *List) FilterLine(s *Styles) string {
	switch {
	case l.editing:
		return l.input.View()
	case l.Filter != "":
		return s.Muted.Render("filter: ") + l.Filter + s.Muted.Render("  (esc clears)")
	}
	return ""
}

// Matching returns the rows whose texts match the list's filter, in order.
func Matching[T any](l *List, rows []T, texts func(T) []string) []T {
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		if l.Match(texts(r)...) {
			out = append(out, r)
		}
	}
	return out
}

// Selected returns the row under the list's cursor among rows (the matching ones).
func Selected[T any](l *List, rows []T) (T, bool) {
	if l.Cursor < 0 || l.Cursor >= len(rows) {
		var none T
		return none, false
	}
	return rows[l.Cursor], true
}

// Requests numbers a view's requests of one kind, so that an answer arriving after the
// answer to a later request is dropped.
type Requests struct{ last, taken uint64 }

// Next numbers a new request.
func (r *Requests) Next() uint64 {
	r.last++
	return r.last
}

// Last returns the number of the latest request.
func (r *Requests) Last() uint64 { return r.last }

// Take reports whether the answer to request n is to be taken, that is not older than one
// taken already, and records it. Answers numbered 0 are always taken.
func (r *Requests) Take(n uint64) bool {
	if n != 0 && n <= r.taken {
		return false
	}
	r.taken = max(r.taken, n)
	return true
}
