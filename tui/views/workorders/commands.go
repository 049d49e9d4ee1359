package workorders

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// eligibilityWorkers bounds the concurrent pending-list requests of one load.
const eligibilityWorkers = 4

// loadList reads the queue, the recent log and the agents; when some order is PENDING it
// also reads each agent's pending list, which tells which agents may claim which order.
func (m *Model) loadList() tea.Cmd {
	env, gen := m.env, m.listReqs.Next()
	return func() tea.Msg {
		msg := LoadedMsg{Gen: gen}
		c := env.Client
		if c == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		msg.Err = loadAll(ctx, c, &msg)
		msg.At = env.Now()
		if msg.Err != nil {
			msg.Orders, msg.Finished, msg.Agents, msg.Eligible = nil, nil, nil, nil
		}
		return msg
	}
}

func loadAll(ctx context.Context, c *client.Client, msg *LoadedMsg) error {
	orders, err := c.WorkOrders().List(ctx, nil)
	if err != nil {
		return fmt.Errorf("list work orders: %w", err)
	}
	finished, err := c.WorkOrders().Log(ctx, &client.WorkOrderLogOptions{Limit: logLimit})
	if err != nil {
		return fmt.Errorf("read work order log: %w", err)
	}
	agents, err := c.Agents().List(ctx)
	if err != nil {
		return fmt.Errorf("list agents: %w", err)
	}
	if orders == nil {
		orders = []client.WorkOrder{}
	}
	msg.Orders, msg.Finished, msg.Agents = orders, finished, agents
	pending := false
	for _, o := range orders {
		pending = pending || o.Status == client.WorkOrderPending
	}
	if !pending {
		return nil
	}
	eligible, err := eligibility(ctx, c, agents)
	if err != nil {
		return err
	}
	msg.Eligible = eligible
	return nil
}

// eligibility asks every agent's pending list (a few at a time) and inverts it: order →
// agents. An agent deleted meanwhile (404) just has no orders.
func eligibility(ctx context.Context, c *client.Client, agents []client.Agent) (map[uuid.UUID][]uuid.UUID, error) {
	type answer struct {
		agent  uuid.UUID
		orders []client.WorkOrder
		err    error
	}
	jobs := make(chan uuid.UUID)
	answers := make(chan answer)
	var wg sync.WaitGroup
	for range min(eligibilityWorkers, len(agents)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				orders, err := c.WorkOrders().Pending(ctx, a, "")
				answers <- answer{agent: a, orders: orders, err: err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, a := range agents {
			select {
			case jobs <- a.ID:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(answers) }()
	out := map[uuid.UUID][]uuid.UUID{}
	var firstErr error
	for ans := range answers {
		switch {
		case ans.err == nil:
			for _, o := range ans.orders {
				out[o.ID] = append(out[o.ID], ans.agent)
			}
		case client.IsNotFound(ans.err):
		case firstErr == nil:
			firstErr = fmt.Errorf("pending work orders of agent %s: %w", ans.agent, ans.err)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("pending work orders: %w", ctx.Err())
	}
	return out, firstErr
}

// loadDetail reads one order and, once it finished, its log entry.
func (m *Model) loadDetail(orderID uuid.UUID) tea.Cmd {
	env, gen := m.env, m.detailReqs.Next()
	return func() tea.Msg {
		msg := DetailMsg{Gen: gen, ID: orderID}
		c := env.Client
		if c == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		o, err := c.WorkOrders().Get(ctx, orderID)
		msg.At = env.Now()
		if err != nil {
			msg.Err = fmt.Errorf("get work order: %w", err)
			return msg
		}
		msg.Order = &o
		if o.Status == client.WorkOrderCompleted || o.Status == client.WorkOrderFailed {
			l, err := c.WorkOrders().LogEntry(ctx, orderID)
			msg.At = env.Now()
			if err != nil {
				msg.Err = fmt.Errorf("get work order log entry: %w", err)
				return msg
			}
			msg.Log = &l
		}
		return msg
	}
}

// deleteOrder removes a queued order.
func (m *Model) deleteOrder(orderID uuid.UUID) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		msg := DeletedMsg{ID: orderID}
		c := env.Client
		if c == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		msg.Err = c.WorkOrders().Delete(ctx, orderID)
		msg.At = env.Now()
		return msg
	}
}

// createOrder resolves the target agents by name or id and enqueues the order.
func (m *Model) createOrder(formID uint64, workType, content string, targets []string) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		msg := CreatedMsg{Form: formID}
		c := env.Client
		if c == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		agents, err := c.Agents().List(ctx)
		if err != nil {
			msg.At, msg.Err = env.Now(), fmt.Errorf("list agents: %w", err)
			return msg
		}
		ids, names, err := resolveAgents(agents, targets)
		if err != nil {
			msg.At, msg.Err = env.Now(), ui.Refused(err) // the broker answered: not unreachable
			return msg
		}
		o, err := c.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{
			WorkType:    workType,
			YAMLContent: content,
			Targeting:   &client.WorkOrderTargeting{AgentIDs: ids},
		})
		msg.At = env.Now()
		if err != nil {
			msg.Err = fmt.Errorf("create work order: %w", err)
			return msg
		}
		msg.Order, msg.Targets = o, names
		return msg
	}
}

// resolveAgents turns agent names or ids into ids (each once, in the given order). A name
// two agents share (in different clusters) is ambiguous: the id must be used.
func resolveAgents(agents []client.Agent, targets []string) ([]uuid.UUID, []string, error) {
	var ids []uuid.UUID
	var names []string
	seen := map[uuid.UUID]bool{}
	for _, t := range targets {
		var match []client.Agent
		if id, err := uuid.Parse(t); err == nil {
			for _, a := range agents {
				if a.ID == id {
					match = append(match, a)
				}
			}
		} else {
			for _, a := range agents {
				if a.Name == t {
					match = append(match, a)
				}
			}
		}
		switch len(match) {
		case 0:
			return nil, nil, fmt.Errorf("unknown agent %q", t)
		case 1:
		default:
			return nil, nil, fmt.Errorf("agent name %q is ambiguous (%d agents in different clusters): use its id", t, len(match))
		}
		a := match[0]
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		ids = append(ids, a.ID)
		names = append(names, a.Name)
	}
	return ids, names, nil
}

func retries(n, maxN int32) string { return itoa(n) + "/" + itoa(maxN) }

func itoa(n int32) string { return strconv.Itoa(int(n)) }
