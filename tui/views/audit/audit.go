// Package audit is the Audit tab of brokkrctl tui: the broker's audit log, newest first, with
// server-side filters (a small form), a client-side text filter, paging and a detail of one
// entry with its details pretty-printed.
package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// PageSize is how many entries a page holds.
const PageSize = 50

var (
	keyFilters = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "server filters"))
	keyNext    = key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next page"))
	keyPrev    = key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "previous page"))
)

// Query is what the list asks the broker for: the server-side filters and the page. Empty
// fields do not filter.
type Query struct {
	Action       string // exact, or a prefix when it ends in "*"
	ActorType    string
	ActorID      string
	ResourceType string
	ResourceID   string
	Since        string // how far back, e.g. "30m", "2h", "7d"
	Offset       int
}

// Filtered reports whether any server-side filter is set.
func (q Query) Filtered() bool {
	q.Offset = 0
	return q != Query{}
}

// Options turns the query into the client's list options for a page of limit entries, with
// Since counted back from now.
func (q Query) Options(now time.Time, limit int) (*client.AuditLogOptions, error) {
	o := &client.AuditLogOptions{Action: q.Action, ActorType: q.ActorType, ResourceType: q.ResourceType,
		Limit: limit, Offset: q.Offset}
	var err error
	if o.ActorID, err = parseID("actor id", q.ActorID); err != nil {
		return nil, err
	}
	if o.ResourceID, err = parseID("resource id", q.ResourceID); err != nil {
		return nil, err
	}
	if q.Since != "" {
		d, err := ParseSince(q.Since)
		if err != nil {
			return nil, err
		}
		o.From = now.Add(-d)
	}
	return o, nil
}

func parseID(what, s string) (*uuid.UUID, error) {
	if s == "" {
		return nil, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a UUID", what, s)
	}
	return &id, nil
}

// ParseSince parses a positive look-back period: a Go duration ("90m", "2h30m") or a
// number of days ("7d").
func ParseSince(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("since %q: want a duration such as 30m, 2h or 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("since %q: want a duration such as 30m, 2h or 7d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("since %q: must be positive", s)
	}
	return d, nil
}

// LoadedMsg carries the page answering Query (or the error of loading it).
type LoadedMsg struct {
	Query Query
	List  client.AuditLogList
	Err   error
}

// TickMsg is the view's polling timer.
type TickMsg struct{}

// Model is the Audit view.
type Model struct {
	env      *ui.Env
	pageSize int

	query   Query // what is asked for
	shown   Query // what the entries answer
	entries []client.AuditLogEntry
	total   int64
	loaded  bool
	err     error
	list    ui.List
	form    *form

	open   bool
	entry  client.AuditLogEntry
	scroll int
	viewH  int
}

// New returns the Audit view.
func New(env *ui.Env) ui.View {
	return &Model{env: env, pageSize: PageSize}
}

// Query returns what the list asks the broker for.
func (m *Model) Query() Query { return m.query }

// Title implements ui.View.
func (m *Model) Title() string { return "Audit" }

// Init implements ui.View: the first load and the polling timer.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.load(), m.env.Tick(TickMsg{})) }

// Capturing implements ui.View: the filter form is open or the text filter is being typed.
func (m *Model) Capturing() bool { return m.form != nil || m.list.Editing() }

// Keys implements ui.View.
func (m *Model) Keys() []key.Binding {
	switch {
	case m.form != nil:
		return formKeys
	case m.open:
		return []key.Binding{ui.KeyScroll, ui.KeyPgDown, ui.KeyBack}
	}
	return []key.Binding{ui.KeyOpen, ui.KeyFilter, keyFilters, keyNext, keyPrev, ui.KeyRefresh}
}

// Selected returns the entry under the cursor (or the open one), if any.
func (m *Model) Selected() (client.AuditLogEntry, bool) {
	if m.open {
		return m.entry, true
	}
	vis := m.visible()
	if m.list.Cursor < 0 || m.list.Cursor >= len(vis) {
		return client.AuditLogEntry{}, false
	}
	return m.entries[vis[m.list.Cursor]], true
}

// DetailOpen reports whether one entry's detail is shown.
func (m *Model) DetailOpen() bool { return m.open }

// FormOpen reports whether the filter form is shown.
func (m *Model) FormOpen() bool { return m.form != nil }

func (m *Model) visible() []int {
	out := make([]int, 0, len(m.entries))
	for i, e := range m.entries {
		if m.list.Match(actorCell(e), e.Action, resourceCell(e, false), oneLineJSON(e.Details), e.ID.String()) {
			out = append(out, i)
		}
	}
	return out
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		if msg.Query != m.query {
			return m, nil
		}
		if msg.Err != nil {
			m.err = msg.Err
			return m, nil
		}
		sel, had := m.Selected()
		m.entries, m.total, m.shown, m.loaded, m.err = msg.List.Logs, msg.List.Total, msg.Query, true, nil
		if had && !m.open {
			m.keep(sel.ID)
		}
		m.list.Clamp(len(m.visible()))
		return m, nil
	case TickMsg:
		return m, m.env.Poll(m.Title(), m.load, TickMsg{})
	case ui.ActivatedMsg:
		if msg.Title != m.Title() {
			return m, nil
		}
		return m, m.load()
	case tea.KeyPressMsg:
		switch {
		case m.form != nil:
			return m, m.formKey(msg)
		case m.open:
			m.detailKey(msg)
			return m, nil
		}
		return m, m.listKey(msg)
	}
	if m.list.Editing() {
		_, cmd := m.list.Update(msg, len(m.visible()))
		return m, cmd
	}
	return m, nil
}

func (m *Model) keep(id uuid.UUID) {
	m.list.Cursor = 0
	for i, idx := range m.visible() {
		if m.entries[idx].ID == id {
			m.list.Cursor = i
			return
		}
	}
}

func (m *Model) listKey(k tea.KeyPressMsg) tea.Cmd {
	if used, cmd := m.list.Update(k, len(m.visible())); used {
		return cmd
	}
	switch {
	case key.Matches(k, ui.KeyRefresh):
		return m.load()
	case key.Matches(k, ui.KeyOpen):
		if e, ok := m.Selected(); ok {
			m.open, m.entry, m.scroll = true, e, 0
		}
	case key.Matches(k, keyFilters):
		m.form = newForm(m.env.Styles, m.query)
		return nil
	case key.Matches(k, keyNext):
		if int64(m.query.Offset+m.pageSize) >= m.total {
			return ui.Flash("already on the last page", false)
		}
		m.query.Offset += m.pageSize
		return m.load()
	case key.Matches(k, keyPrev):
		if m.query.Offset == 0 {
			return ui.Flash("already on the first page", false)
		}
		m.query.Offset = max(m.query.Offset-m.pageSize, 0)
		return m.load()
	}
	return nil
}

func (m *Model) detailKey(k tea.KeyPressMsg) {
	maxScroll := max(len(m.detailLines())-max(m.viewH, 1), 0)
	if off, ok := ui.ScrollKey(k, m.scroll, max(m.viewH-1, 1), maxScroll); ok {
		m.scroll = min(max(off, 0), maxScroll)
		return
	}
	if key.Matches(k, ui.KeyBack) {
		m.open = false
		m.keep(m.entry.ID)
	}
}

func (m *Model) formKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.form = nil
		return nil
	case "enter":
		q := m.form.query()
		if _, err := q.Options(m.env.Now(), m.pageSize); err != nil {
			m.form.err = err.Error()
			return nil
		}
		m.form = nil
		if q == m.query {
			return nil
		}
		m.query = q
		m.list.Cursor = 0
		return m.load()
	}
	return m.form.update(k)
}

// ---- commands ----

func (m *Model) load() tea.Cmd {
	env, q, limit := m.env, m.query, m.pageSize
	return func() tea.Msg {
		if env.Client == nil {
			return LoadedMsg{Query: q, Err: ui.ErrNoClient}
		}
		opts, err := q.Options(env.Now(), limit)
		if err != nil {
			return LoadedMsg{Query: q, Err: err}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		list, err := env.Client.Admin().AuditLogs(ctx, opts)
		if err != nil {
			err = fmt.Errorf("list audit logs: %w", err)
		}
		return ui.WithStatus(LoadedMsg{Query: q, List: list, Err: err}, env.Now(), ui.Unusable(err))
	}
}
