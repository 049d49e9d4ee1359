// Package workorders is the Work orders tab of brokkrctl tui: the queued work orders with
// their status, the agents that may claim them, retries and claims; the recently finished
// orders from the work order log; a detail page per order (every field, the result of a
// finished order, the YAML); a small form that enqueues an order from a file; and deletion
// of queued orders.
package workorders

import (
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// logLimit is how many finished orders of the work order log the list shows.
const logLimit = 50

// View-specific key bindings.
var (
	keyNew  = key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new from file"))
	keyNext = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next"))
)

type mode int

const (
	modeList mode = iota
	modeDetail
)

// LoadedMsg carries the work orders: the queue, the recent log, the agents (for names) and,
// per queued PENDING order, the agents that may claim it.
type LoadedMsg struct {
	Gen    uint64
	At     time.Time
	Orders []client.WorkOrder
	// Finished are the most recently finished orders, newest first.
	Finished []client.WorkOrderLog
	Agents   []client.Agent
	// Eligible maps a PENDING order to the agents whose pending list holds it.
	Eligible map[uuid.UUID][]uuid.UUID
	Err      error
}

// DetailMsg carries one order for the detail page: the order as the broker returns it and,
// once it finished, its log entry.
type DetailMsg struct {
	Gen   uint64
	At    time.Time
	ID    uuid.UUID
	Order *client.WorkOrder
	Log   *client.WorkOrderLog
	Err   error
}

// FileReadMsg carries the content of the file the create form names.
type FileReadMsg struct {
	Form    uint64
	Path    string
	Content string
	Err     error
}

// CreatedMsg is the outcome of enqueueing the form's order.
type CreatedMsg struct {
	Form  uint64
	At    time.Time
	Order client.WorkOrder
	// Targets are the names of the agents the order was targeted at.
	Targets []string
	Err     error
}

// DeletedMsg is the outcome of deleting a queued order.
type DeletedMsg struct {
	At  time.Time
	ID  uuid.UUID
	Err error
}

// TickMsg makes the view poll the broker again.
type TickMsg struct{}

// row is one line of the list: a queued order or a finished one.
type row struct {
	id        uuid.UUID
	workType  string
	status    string
	targets   string
	retries   string
	claimedBy string
	created   time.Time
	queued    bool
}

// Model is the Work orders view. Build it with New.
type Model struct {
	env *ui.Env

	list     ui.List
	orders   []client.WorkOrder
	finished []client.WorkOrderLog
	agents   map[uuid.UUID]client.Agent
	eligible map[uuid.UUID][]uuid.UUID
	rows     []row
	loaded   bool
	listErr  error
	listReqs ui.Requests

	mode       mode
	detailID   uuid.UUID
	order      *client.WorkOrder
	log        *client.WorkOrderLog
	detailErr  error
	detailReqs ui.Requests
	scroll     int

	form  *form
	forms uint64 // numbers the forms, so a cancelled form's answers are dropped

	width, height int // size of the last render, for paging
}

// New returns the Work orders view.
func New(env *ui.Env) ui.View {
	return &Model{env: env, agents: map[uuid.UUID]client.Agent{}, width: 80, height: 20}
}

// Title implements ui.View.
func (m *Model) Title() string { return "Work orders" }

// Init loads the orders and starts polling.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.loadList(), m.env.Tick(TickMsg{})) }

// Capturing reports that the filter or the create form is taking keys.
func (m *Model) Capturing() bool { return m.form != nil || m.list.Editing() }

// Keys implements ui.View.
func (m *Model) Keys() []key.Binding {
	switch {
	case m.form != nil:
		return []key.Binding{keyNext, ui.KeyCancel}
	case m.mode == modeDetail:
		return []key.Binding{ui.KeyScroll, ui.KeyPage, ui.KeyBack, ui.KeyDelete, ui.KeyRefresh}
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyOpen, ui.KeyFilter, keyNew, ui.KeyDelete, ui.KeyRefresh}
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		m.applyList(msg)
		return m, ui.Status(msg.At, msg.Err)
	case DetailMsg:
		m.applyDetail(msg)
		return m, ui.Status(msg.At, ui.Unreachable(msg.Err))
	case FileReadMsg:
		return m, m.fileRead(msg)
	case CreatedMsg:
		return m, m.created(msg)
	case DeletedMsg:
		return m, m.deleted(msg)
	case TickMsg:
		return m, m.env.Poll(m.Title(), m.reload, TickMsg{})
	case ui.ActivatedMsg:
		if msg.Title != m.Title() {
			return m, nil
		}
		return m, m.reload()
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	// Other messages (cursor blinks) belong to whichever input is open.
	if m.form != nil {
		return m, m.form.update(msg)
	}
	if m.list.Editing() {
		_, cmd := m.list.Update(msg, len(m.visible()))
		return m, cmd
	}
	return m, nil
}

// reload asks for the list again, and for the detail when it is open.
func (m *Model) reload() tea.Cmd {
	if m.mode == modeDetail {
		return tea.Batch(m.loadList(), m.loadDetail(m.detailID))
	}
	return m.loadList()
}

// applyList takes a list answer, keeping the cursor on the order it was on.
func (m *Model) applyList(msg LoadedMsg) {
	if !m.listReqs.Take(msg.Gen) {
		return // an older request answered late
	}
	m.listErr = msg.Err
	if msg.Err != nil && msg.Orders == nil {
		return // keep the last data
	}
	sel, hadSel := m.selected()
	m.orders, m.finished, m.loaded = msg.Orders, msg.Finished, true
	agents := make(map[uuid.UUID]client.Agent, len(msg.Agents))
	for _, a := range msg.Agents {
		agents[a.ID] = a
	}
	m.agents, m.eligible = agents, msg.Eligible
	m.rows = m.buildRows()
	rows := m.visible()
	if hadSel {
		for i, r := range rows {
			if r.id == sel.id {
				m.list.Cursor = i
			}
		}
	}
	m.list.Clamp(len(rows))
	if m.mode == modeDetail && m.order == nil && m.log == nil {
		m.order, m.log = m.known(m.detailID)
	}
}

// buildRows lists the queued orders (newest first) and then the finished ones (most
// recently finished first). An order that finished between the two reads shows once.
func (m *Model) buildRows() []row {
	rows := make([]row, 0, len(m.orders)+len(m.finished))
	seen := make(map[uuid.UUID]bool, len(m.orders))
	for _, o := range m.orders {
		seen[o.ID] = true
		r := row{id: o.ID, workType: o.WorkType, status: o.Status, created: o.CreatedAt, queued: true,
			retries: retries(o.RetryCount, o.MaxRetries), claimedBy: "-", targets: "-"}
		if o.ClaimedBy != nil {
			r.claimedBy = m.agentName(*o.ClaimedBy)
		}
		if names := m.eligibleNames(o.ID); len(names) > 0 {
			r.targets = strings.Join(names, ",")
		}
		rows = append(rows, r)
	}
	for _, l := range m.finished {
		if seen[l.ID] {
			continue
		}
		r := row{id: l.ID, workType: l.WorkType, status: client.WorkOrderCompleted, created: l.CreatedAt,
			retries: itoa(l.RetriesAttempted), claimedBy: "-", targets: "-"}
		if !l.Success {
			r.status = client.WorkOrderFailed
		}
		if l.ClaimedBy != nil {
			r.claimedBy = m.agentName(*l.ClaimedBy)
		}
		rows = append(rows, r)
	}
	return rows
}

// eligibleNames returns the sorted names of the agents that may claim a PENDING order.
func (m *Model) eligibleNames(id uuid.UUID) []string {
	ids := m.eligible[id]
	names := make([]string, 0, len(ids))
	for _, a := range ids {
		names = append(names, m.agentName(a))
	}
	slices.Sort(names)
	return names
}

// agentName names an agent by its name, or by its short id when it is unknown.
func (m *Model) agentName(id uuid.UUID) string {
	if a, ok := m.agents[id]; ok && a.Name != "" {
		return a.Name
	}
	return ui.ShortID(id)
}

// known returns what the list knows about an order: the queued order or its log entry.
func (m *Model) known(id uuid.UUID) (*client.WorkOrder, *client.WorkOrderLog) {
	for i := range m.orders {
		if m.orders[i].ID == id {
			o := m.orders[i]
			return &o, nil
		}
	}
	for i := range m.finished {
		if m.finished[i].ID == id {
			l := m.finished[i]
			return nil, &l
		}
	}
	return nil, nil
}

func (m *Model) applyDetail(msg DetailMsg) {
	if m.mode != modeDetail || msg.ID != m.detailID || !m.detailReqs.Take(msg.Gen) {
		return
	}
	m.detailErr = msg.Err
	if msg.Err != nil {
		return // keep the last data
	}
	if msg.Order != nil {
		m.order = msg.Order
	}
	if msg.Log != nil {
		m.log = msg.Log
	}
	m.clampScroll()
}

// visible returns the rows that match the filter.
func (m *Model) visible() []row {
	return ui.Matching(&m.list, m.rows, func(r row) []string {
		return []string{r.id.String(), r.workType, r.status, r.targets, r.claimedBy}
	})
}

// selected returns the row under the cursor.
func (m *Model) selected() (row, bool) { return ui.Selected(&m.list, m.visible()) }

func (m *Model) key(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	if m.form != nil {
		return m, m.formKey(k)
	}
	if m.mode == modeDetail {
		return m.detailKey(k)
	}
	rows := m.visible()
	m.list.SetPage(max(m.height-3, 1))
	if used, cmd := m.list.Update(k, len(rows)); used {
		return m, cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		r, ok := m.selected()
		if !ok {
			return m, nil
		}
		m.openDetail(r.id)
		return m, m.loadDetail(r.id)
	case key.Matches(k, keyNew):
		return m, m.openForm()
	case key.Matches(k, ui.KeyDelete):
		r, ok := m.selected()
		if !ok {
			return m, nil
		}
		return m, m.confirmDelete(r.id, r.workType, r.queued)
	case key.Matches(k, ui.KeyRefresh):
		return m, m.loadList()
	}
	return m, nil
}

func (m *Model) openDetail(id uuid.UUID) {
	m.mode, m.detailID, m.scroll, m.detailErr = modeDetail, id, 0, nil
	m.order, m.log = m.known(id)
}

func (m *Model) detailKey(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	if off, ok := ui.ScrollKey(k, m.scroll, max(m.height-2, 1), len(m.detailLines(m.width))); ok {
		m.scroll = off
		m.clampScroll()
		return m, nil
	}
	switch {
	case key.Matches(k, ui.KeyBack):
		m.mode = modeList
		return m, nil
	case key.Matches(k, ui.KeyRefresh):
		return m, m.reload()
	case key.Matches(k, ui.KeyDelete):
		queued := m.order != nil && m.log == nil && isQueued(m.order.Status)
		workType := ""
		if o, l := m.order, m.log; o != nil {
			workType = o.WorkType
		} else if l != nil {
			workType = l.WorkType
		}
		return m, m.confirmDelete(m.detailID, workType, queued)
	}
	return m, nil
}

// clampScroll keeps the detail page's offset between the top and the last full page.
func (m *Model) clampScroll() {
	m.scroll = min(m.scroll, max(len(m.detailLines(m.width))-(m.height-1), 0))
	m.scroll = max(m.scroll, 0)
}

// confirmDelete asks before deleting a queued order; finished orders stay in the log.
func (m *Model) confirmDelete(id uuid.UUID, workType string, queued bool) tea.Cmd {
	if !queued {
		return ui.Flash("only queued work orders can be deleted; finished ones stay in the log", true)
	}
	prompt := "Delete work order " + ui.ShortID(id)
	if workType != "" {
		prompt += " (" + workType + ")"
	}
	return ui.Confirm(prompt+"?", m.deleteOrder(id))
}

func (m *Model) deleted(msg DeletedMsg) tea.Cmd {
	st := ui.Status(msg.At, ui.Unreachable(msg.Err))
	if msg.Err != nil {
		text := "delete work order " + ui.ShortID(msg.ID) + ": " + ui.ErrText(msg.Err)
		if client.IsNotFound(msg.Err) {
			text = "work order " + ui.ShortID(msg.ID) + " is no longer queued (claimed, finished or deleted)"
		}
		return tea.Batch(ui.Flash(text, true), st, m.loadList())
	}
	m.orders = slices.DeleteFunc(m.orders, func(o client.WorkOrder) bool { return o.ID == msg.ID })
	m.rows = m.buildRows()
	m.list.Clamp(len(m.visible()))
	if m.mode == modeDetail && m.detailID == msg.ID {
		m.mode = modeList
	}
	return tea.Batch(ui.Flash("work order "+ui.ShortID(msg.ID)+" deleted", false), st, m.loadList())
}

func isQueued(s string) bool {
	return s == client.WorkOrderPending || s == client.WorkOrderClaimed || s == client.WorkOrderRetryPending
}
