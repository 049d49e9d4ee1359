// Package tui is brokkrctl tui: a live dashboard of a brokkr fleet in the terminal. It talks
// to the broker only through package client.
package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Model is the root of the dashboard: tabs, status line, help overlay, confirmations and the
// context picker around the active view.
type Model struct {
	env   *ui.Env
	opts  Options
	views []ui.View
	// generation counts the sets of views: switching context makes new ones, and the
	// answers of the old ones go nowhere.
	generation int
	active     int
	width      int
	height     int
	help       bool
	confirm    *ui.ConfirmMsg
	picker     *picker
	flash      ui.FlashMsg
	flashAt    time.Time
	lastOK     time.Time
	lastErr    error
	context    string
	quitting   bool
}

type picker struct {
	names  []string
	cursor int
}

// contextSwitchedMsg carries the client of the context the user picked.
type contextSwitchedMsg struct {
	name   string
	client *client.Client
	err    error
}

// NewModel builds the dashboard for env with the given views (tabs, in order).
func NewModel(env *ui.Env, opts Options, views []ui.View) *Model {
	return &Model{env: env, opts: opts, views: views, width: 80, height: 24, context: opts.ContextName}
}

// Init starts every view's first load, so switching tabs shows data at once.
func (m *Model) Init() tea.Cmd {
	if len(m.views) > 0 {
		m.env.SetActive(m.views[m.active].Title())
	}
	return tea.Batch(tea.RequestBackgroundColor, m.initViews())
}

// Active returns the active view (for tests).
func (m *Model) Active() ui.View { return m.views[m.active] }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.BackgroundColorMsg:
		if !m.opts.NoColor {
			*m.env.Styles = *ui.NewStyles(msg.IsDark(), false)
		}
		return m, nil
	case ui.StatusMsg:
		if msg.Err == nil {
			m.lastOK, m.lastErr = msg.At, nil
		} else {
			m.lastErr = msg.Err
		}
		return m, nil
	case ui.FlashMsg:
		m.flash, m.flashAt = msg, m.env.Now()
		return m, nil
	case ui.ConfirmMsg:
		m.confirm = &msg
		return m, nil
	case contextSwitchedMsg:
		if msg.err != nil {
			m.flash, m.flashAt = ui.FlashMsg{Text: "context " + msg.name + ": " + msg.err.Error(), Error: true}, m.env.Now()
			return m, nil
		}
		m.env.Client, m.context = msg.client, msg.name
		m.lastOK, m.lastErr = time.Time{}, nil
		m.generation++
		views := make([]ui.View, len(m.views))
		for i := range m.views {
			views[i] = m.opts.Views[i](m.env)
		}
		m.views = views
		m.flash, m.flashAt = ui.FlashMsg{Text: "switched to context " + msg.name}, m.env.Now()
		return m, m.initViews()
	case routed:
		return m, m.deliver(msg)
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.PasteMsg:
		return m, m.update(m.active, msg)
	}
	// A message no view asked for (a terminal report, say) reaches every view.
	return m, m.broadcast(msg)
}

func (m *Model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if k.String() == "ctrl+c" {
		m.quitting = true
		return m, tea.Quit
	}
	if m.confirm != nil {
		c := m.confirm
		switch k.String() {
		case "y", "Y":
			m.confirm = nil
			return m, c.On
		case "n", "N", "esc", "q":
			m.confirm = nil
			m.flash, m.flashAt = ui.FlashMsg{Text: "cancelled"}, m.env.Now()
		}
		return m, nil
	}
	if m.picker != nil {
		switch {
		case key.Matches(k, ui.KeyUp):
			m.picker.cursor = max(m.picker.cursor-1, 0)
		case key.Matches(k, ui.KeyDown):
			m.picker.cursor = min(m.picker.cursor+1, len(m.picker.names)-1)
		case key.Matches(k, ui.KeyOpen):
			name := m.picker.names[m.picker.cursor]
			m.picker = nil
			sw := m.opts.SwitchContext
			return m, func() tea.Msg {
				c, err := sw(name)
				return contextSwitchedMsg{name: name, client: c, err: err}
			}
		case key.Matches(k, ui.KeyBack), k.String() == "q":
			m.picker = nil
		}
		return m, nil
	}
	if m.help {
		if key.Matches(k, ui.KeyHelp, ui.KeyBack) || k.String() == "q" {
			m.help = false
		}
		return m, nil
	}
	v := m.views[m.active]
	if !v.Capturing() {
		switch {
		case key.Matches(k, ui.KeyQuit):
			m.quitting = true
			return m, tea.Quit
		case key.Matches(k, ui.KeyHelp):
			m.help = true
			return m, nil
		case key.Matches(k, ui.KeyNextTab):
			return m, m.activate((m.active + 1) % len(m.views))
		case key.Matches(k, ui.KeyPrevTab):
			return m, m.activate((m.active + len(m.views) - 1) % len(m.views))
		case key.Matches(k, ui.KeyTabN):
			if n := int(k.String()[0] - '1'); n < len(m.views) {
				return m, m.activate(n)
			}
			return m, nil
		case key.Matches(k, ui.KeyContext) && m.opts.SwitchContext != nil && len(m.opts.Contexts) > 0:
			m.picker = &picker{names: m.opts.Contexts}
			for i, n := range m.opts.Contexts {
				if n == m.context {
					m.picker.cursor = i
				}
			}
			return m, nil
		}
	}
	return m, m.update(m.active, k)
}

// activate puts view i on screen and lets it refresh.
func (m *Model) activate(i int) tea.Cmd {
	if i == m.active {
		return nil
	}
	m.active = i
	title := m.views[i].Title()
	m.env.SetActive(title)
	return m.broadcast(ui.ActivatedMsg{Title: title})
}

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "brokkr"
	return v
}

// Render draws the whole screen as a string (tests compare it).
func (m *Model) Render() string {
	if m.quitting {
		return ""
	}
	w, h := max(m.width, 20), max(m.height, 5)
	top := m.tabBar(false)
	if lipgloss.Width(top) > w { // too narrow for every title: only the current view's
		top = m.tabBar(true)
	}
	top = ui.Fit(top, w)
	bodyH := h - 3
	var body string
	switch {
	case m.help:
		body = m.renderHelp(w, bodyH)
	case m.picker != nil:
		body = m.renderPicker(w, bodyH)
	default:
		body = m.views[m.active].Render(w, bodyH)
	}
	body = pad(ui.Clip(body, w, bodyH), bodyH)
	return top + "\n" + body + "\n" + m.statusLine(w) + "\n" + m.footer(w)
}

// tabBar is the line of views: the number and title of each, or with compact only the number
// of the views not on screen.
func (m *Model) tabBar(compact bool) string {
	s := m.env.Styles
	tabs := []string{s.Title.Render("brokkr")}
	for i, v := range m.views {
		label := fmt.Sprintf("%d %s", i+1, v.Title())
		switch {
		case i == m.active:
			tabs = append(tabs, s.ActiveTab.Render(label))
		case compact:
			tabs = append(tabs, s.Tab.Render(fmt.Sprint(i+1)))
		default:
			tabs = append(tabs, s.Tab.Render(label))
		}
	}
	return strings.Join(tabs, " ")
}

func pad(s string, height int) string {
	n := strings.Count(s, "\n") + 1
	if n < height {
		s += strings.Repeat("\n", height-n)
	}
	return s
}

func (m *Model) statusLine(w int) string {
	s := m.env.Styles
	if m.confirm != nil {
		return ui.Fit(s.Warn.Render(m.confirm.Prompt+" [y/N]"), w)
	}
	left := s.Muted.Render("context ") + ui.OrDash(m.context) + s.Muted.Render(" · ") + m.opts.BrokerURL
	var right string
	now := m.env.Now()
	switch {
	case m.lastErr != nil:
		right = s.Bad.Render("broker unreachable: " + ui.FirstLine(m.lastErr.Error()))
		if !m.lastOK.IsZero() {
			right += s.Muted.Render(" · data from " + ui.Age(now, m.lastOK) + " ago")
		}
	case m.lastOK.IsZero():
		right = s.Muted.Render("loading…")
	case now.Sub(m.lastOK) > 3*m.env.RefreshEvery+time.Second:
		right = s.Warn.Render("stale: updated " + ui.Age(now, m.lastOK) + " ago")
	default:
		right = s.Good.Render("live") + s.Muted.Render(" · updated "+ui.Age(now, m.lastOK)+" ago")
	}
	if m.flash.Text != "" && now.Sub(m.flashAt) < 5*time.Second {
		st := s.Flash
		if m.flash.Error {
			st = s.FlashErr
		}
		right = st.Render(ui.FirstLine(m.flash.Text))
	}
	lw := ansi.StringWidth(left)
	if lw+1+20 > w { // too narrow for both: the state matters more than where
		return ui.Fit(right, w)
	}
	right = ui.Clip(right, w-lw-1, 1)
	return left + strings.Repeat(" ", w-lw-ansi.StringWidth(right)) + right
}

func (m *Model) footer(w int) string {
	s := m.env.Styles
	keys := append(m.views[m.active].Keys(), ui.KeyNextTab, ui.KeyHelp, ui.KeyQuit)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		h := k.Help()
		parts = append(parts, s.Key.Render(h.Key)+" "+s.Muted.Render(h.Desc))
	}
	return ui.Fit(strings.Join(parts, "  "), w)
}

func (m *Model) renderHelp(w, h int) string {
	s := m.env.Styles
	var b strings.Builder
	b.WriteString(s.Title.Render("Keys") + "\n\n")
	section := func(title string, keys []key.Binding) {
		b.WriteString(s.Header.Render(title) + "\n")
		for _, k := range keys {
			hb := k.Help()
			b.WriteString("  " + s.Key.Render(ui.Fit(hb.Key, 12)) + " " + hb.Desc + "\n")
		}
		b.WriteString("\n")
	}
	section(m.views[m.active].Title(), m.views[m.active].Keys())
	global := []key.Binding{ui.KeyNextTab, ui.KeyPrevTab, ui.KeyTabN, ui.KeyFilter, ui.KeyBack, ui.KeyRefresh, ui.KeyHelp, ui.KeyQuit}
	if m.opts.SwitchContext != nil && len(m.opts.Contexts) > 0 {
		global = append(global, ui.KeyContext)
	}
	section("Everywhere", global)
	b.WriteString(s.Muted.Render("? or esc closes this help"))
	return ui.Box(s, "help", b.String(), w, h)
}

func (m *Model) renderPicker(w, h int) string {
	s := m.env.Styles
	var b strings.Builder
	for i, n := range m.picker.names {
		line := "  " + n
		if n == m.context {
			line += s.Muted.Render(" (current)")
		}
		if i == m.picker.cursor {
			line = s.Selected.Render(ansi.Strip(ui.Fit(line, w-4)))
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("\n" + s.Muted.Render("enter switches · esc cancels"))
	return ui.Box(s, "switch context", b.String(), w, h)
}
