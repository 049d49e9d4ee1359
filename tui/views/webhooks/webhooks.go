// Package webhooks is the Webhooks tab of brokkrctl tui: the webhook subscriptions, each with
// its recent deliveries, and the actions on them (test delivery, enable/disable, delete).
package webhooks

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// deliveryLimit is how many recent deliveries the detail shows.
const deliveryLimit = 20

// Delivery modes: who posts a subscription's events (derived from its target labels).
const (
	// ModeBroker: no target labels, the broker's worker delivers.
	ModeBroker = "broker"
	// ModeAgent: agents carrying every target label deliver.
	ModeAgent = "agent"
	// ModeAny: an empty label list, eligible for the broker and for any agent.
	ModeAny = "any"
)

var (
	keyTest   = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "send test"))
	keyToggle = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "enable/disable"))
)

// LoadedMsg carries the subscriptions (or the error of loading them).
type LoadedMsg struct {
	Webhooks []client.WebhookResponse
	Err      error
}

// DeliveriesMsg carries the recent deliveries of subscription WebhookID.
type DeliveriesMsg struct {
	WebhookID  uuid.UUID
	Deliveries []client.WebhookDelivery
	Err        error
}

// TickMsg is the view's polling timer.
type TickMsg struct{}

// Actions reported by ActionMsg.
const (
	ActionTest    = "test"
	ActionEnable  = "enable"
	ActionDisable = "disable"
	ActionDelete  = "delete"
)

// ActionMsg is the outcome of an action (one of the Action constants) on subscription
// WebhookID. Text describes a success.
type ActionMsg struct {
	WebhookID uuid.UUID
	Name      string
	Action    string
	Text      string
	Err       error
}

// Model is the Webhooks view.
type Model struct {
	env *ui.Env

	hooks  []client.WebhookResponse
	loaded bool
	err    error
	list   ui.List

	// detail
	open       bool
	openID     uuid.UUID
	deliveries []client.WebhookDelivery
	delFor     uuid.UUID // the subscription deliveries belong to
	delLoaded  bool
	delErr     error
	scroll     int
	viewH      int // body height of the last detail render, for scrolling
}

// New returns the Webhooks view.
func New(env *ui.Env) ui.View {
	return &Model{env: env}
}

// Title implements ui.View.
func (m *Model) Title() string { return "Webhooks" }

// Init implements ui.View: the first load and the polling timer.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.load(), m.env.Tick(TickMsg{})) }

// Capturing implements ui.View: the filter is being typed.
func (m *Model) Capturing() bool { return m.list.Editing() }

// Keys implements ui.View.
func (m *Model) Keys() []key.Binding {
	if m.open {
		return []key.Binding{ui.KeyScroll, keyTest, keyToggle, ui.KeyDelete, ui.KeyBack, ui.KeyRefresh}
	}
	return []key.Binding{ui.KeyOpen, ui.KeyFilter, keyTest, keyToggle, ui.KeyDelete, ui.KeyRefresh}
}

// Selected returns the subscription under the cursor (or the open one), if any.
func (m *Model) Selected() (client.WebhookResponse, bool) {
	if m.open {
		return m.find(m.openID)
	}
	vis := m.visible()
	if m.list.Cursor < 0 || m.list.Cursor >= len(vis) {
		return client.WebhookResponse{}, false
	}
	return m.hooks[vis[m.list.Cursor]], true
}

// DetailOpen reports whether the detail of a subscription is shown.
func (m *Model) DetailOpen() bool { return m.open }

func (m *Model) find(id uuid.UUID) (client.WebhookResponse, bool) {
	for _, h := range m.hooks {
		if h.ID == id {
			return h, true
		}
	}
	return client.WebhookResponse{}, false
}

// visible returns the indexes of the subscriptions that match the filter.
func (m *Model) visible() []int {
	out := make([]int, 0, len(m.hooks))
	for i, h := range m.hooks {
		if m.list.Match(h.Name, strings.Join(h.EventTypes, " "), strings.Join(h.TargetLabels, " "),
			enabledWord(h.Enabled), Mode(h.TargetLabels), h.ID.String()) {
			out = append(out, i)
		}
	}
	return out
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		if msg.Err != nil {
			m.err = msg.Err
			return m, nil
		}
		sel, had := m.Selected()
		m.hooks, m.err, m.loaded = msg.Webhooks, nil, true
		if had && !m.open {
			m.keep(sel.ID)
		}
		m.list.Clamp(len(m.visible()))
		return m, nil
	case DeliveriesMsg:
		if !m.open || msg.WebhookID != m.openID {
			return m, nil
		}
		if msg.Err != nil {
			m.delErr = msg.Err
			return m, nil
		}
		m.deliveries, m.delFor, m.delLoaded, m.delErr = msg.Deliveries, msg.WebhookID, true, nil
		return m, nil
	case TickMsg:
		return m, m.env.Poll(m.Title(), m.reload, TickMsg{})
	case ui.ActivatedMsg:
		if msg.Title != m.Title() {
			return m, nil
		}
		return m, m.load()
	case ActionMsg:
		return m, m.actionDone(msg)
	case tea.KeyPressMsg:
		if m.open {
			return m, m.detailKey(msg)
		}
		return m, m.listKey(msg)
	}
	if m.list.Editing() {
		_, cmd := m.list.Update(msg, len(m.visible()))
		return m, cmd
	}
	return m, nil
}

// keep puts the cursor back on subscription id after the rows changed.
func (m *Model) keep(id uuid.UUID) {
	for i, idx := range m.visible() {
		if m.hooks[idx].ID == id {
			m.list.Cursor = i
			return
		}
	}
}

func (m *Model) listKey(k tea.KeyPressMsg) tea.Cmd {
	vis := m.visible()
	if used, cmd := m.list.Update(k, len(vis)); used {
		return cmd
	}
	switch {
	case key.Matches(k, ui.KeyRefresh):
		return m.load()
	case key.Matches(k, ui.KeyOpen):
		h, ok := m.Selected()
		if !ok {
			return nil
		}
		m.open, m.openID, m.scroll = true, h.ID, 0
		if m.delFor != h.ID {
			m.deliveries, m.delLoaded = nil, false
		}
		m.delErr = nil
		return m.loadDeliveries(h.ID)
	}
	return m.action(k)
}

func (m *Model) detailKey(k tea.KeyPressMsg) tea.Cmd {
	maxScroll := max(len(m.detailLines(80))-max(m.viewH, 1), 0)
	if off, ok := ui.ScrollKey(k, m.scroll, max(m.viewH-1, 1), maxScroll); ok {
		m.scroll = min(max(off, 0), maxScroll)
		return nil
	}
	switch {
	case key.Matches(k, ui.KeyBack):
		m.open = false
		m.keep(m.openID)
		return nil
	case key.Matches(k, ui.KeyRefresh):
		return tea.Batch(m.load(), m.loadDeliveries(m.openID))
	}
	return m.action(k)
}

// action handles the keys that act on the selected subscription.
func (m *Model) action(k tea.KeyPressMsg) tea.Cmd {
	h, ok := m.Selected()
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, keyTest):
		return tea.Batch(ui.Flash("sending a test delivery to "+h.Name+"…", false), m.test(h))
	case key.Matches(k, keyToggle):
		verb := "Disable"
		if !h.Enabled {
			verb = "Enable"
		}
		return ui.Confirm(fmt.Sprintf("%s webhook %q?", verb, h.Name), m.setEnabled(h, !h.Enabled))
	case key.Matches(k, ui.KeyDelete):
		return ui.Confirm(fmt.Sprintf("Delete webhook %q and its deliveries?", h.Name), m.remove(h))
	}
	return nil
}

// actionDone reports an action's outcome and reloads what it changed.
func (m *Model) actionDone(msg ActionMsg) tea.Cmd {
	if msg.Err != nil {
		return ui.Flash(fmt.Sprintf("%s %s: %s", msg.Action, msg.Name, errText(msg.Err)), true)
	}
	if msg.Action == ActionTest {
		// A test posts straight to the endpoint: nothing stored changed.
		return ui.Flash(msg.Text, false)
	}
	cmds := []tea.Cmd{ui.Flash(msg.Text, false), m.load()}
	switch {
	case msg.Action == ActionDelete && m.open && m.openID == msg.WebhookID:
		m.open = false
	case msg.Action == ActionDelete:
	case m.open && m.openID == msg.WebhookID:
		cmds = append(cmds, m.loadDeliveries(msg.WebhookID))
	}
	return tea.Batch(cmds...)
}

// ---- commands ----

// reload asks for the subscriptions again, and for the deliveries when a detail is open.
func (m *Model) reload() tea.Cmd {
	if m.open {
		return tea.Batch(m.load(), m.loadDeliveries(m.openID))
	}
	return m.load()
}

func (m *Model) load() tea.Cmd {
	env := m.env
	return func() tea.Msg {
		if env.Client == nil {
			return LoadedMsg{Err: ui.ErrNoClient}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		hooks, err := env.Client.Webhooks().List(ctx)
		if err != nil {
			err = fmt.Errorf("list webhooks: %w", err)
		}
		return reply(env, err, LoadedMsg{Webhooks: hooks, Err: err})
	}
}

func (m *Model) loadDeliveries(wid uuid.UUID) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		if env.Client == nil {
			return DeliveriesMsg{WebhookID: wid, Err: ui.ErrNoClient}
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		ds, err := env.Client.Webhooks().Deliveries(ctx, wid, &client.DeliveryListOptions{Limit: deliveryLimit})
		if err != nil {
			err = fmt.Errorf("list deliveries: %w", err)
		}
		return reply(env, err, DeliveriesMsg{WebhookID: wid, Deliveries: ds, Err: err})
	}
}

func (m *Model) test(h client.WebhookResponse) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		msg := ActionMsg{WebhookID: h.ID, Name: h.Name, Action: ActionTest}
		if env.Client == nil {
			msg.Err = ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		res, err := env.Client.Webhooks().Test(ctx, h.ID)
		if err != nil {
			msg.Err = err
		} else {
			msg.Text = fmt.Sprintf("test delivery to %s: HTTP %d %s", h.Name, res.StatusCode, res.Message)
		}
		return reply(env, err, msg)
	}
}

func (m *Model) setEnabled(h client.WebhookResponse, on bool) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		msg := ActionMsg{WebhookID: h.ID, Name: h.Name, Action: ActionDisable, Text: "disabled webhook " + h.Name}
		if on {
			msg.Action, msg.Text = ActionEnable, "enabled webhook "+h.Name
		}
		if env.Client == nil {
			msg.Err = ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		_, err := env.Client.Webhooks().Update(ctx, h.ID, client.UpdateWebhookRequest{Enabled: &on})
		msg.Err = err
		return reply(env, err, msg)
	}
}

func (m *Model) remove(h client.WebhookResponse) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		msg := ActionMsg{WebhookID: h.ID, Name: h.Name, Action: ActionDelete, Text: "deleted webhook " + h.Name}
		if env.Client == nil {
			msg.Err = ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		msg.Err = env.Client.Webhooks().Delete(ctx, h.ID)
		return reply(env, msg.Err, msg)
	}
}

// reply delivers msg together with the broker's reachability as seen by the request.
func reply(env *ui.Env, err error, msg tea.Msg) tea.Msg {
	return ui.WithStatus(msg, env.Now(), ui.Unusable(err))
}

// errText is the short form of an error for the status line.
func errText(err error) string {
	if client.IsReadOnlyRefusal(err) {
		return ui.ReadOnlyText
	}
	var ae *client.Error
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}

// Mode tells who delivers a subscription's events, from its target labels.
func Mode(labels []string) string {
	switch {
	case labels == nil:
		return ModeBroker
	case len(labels) == 0:
		return ModeAny
	}
	return ModeAgent
}

func enabledWord(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}
