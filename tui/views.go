package tui

import (
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/agents"
	"github.com/brokkr/brokkr/tui/views/audit"
	"github.com/brokkr/brokkr/tui/views/diagnostics"
	"github.com/brokkr/brokkr/tui/views/overview"
	"github.com/brokkr/brokkr/tui/views/rollouts"
	"github.com/brokkr/brokkr/tui/views/stacks"
	"github.com/brokkr/brokkr/tui/views/webhooks"
	"github.com/brokkr/brokkr/tui/views/workorders"
)

// DefaultViews returns the dashboard's tabs, in the order of their number keys.
func DefaultViews() []func(*ui.Env) ui.View {
	return []func(*ui.Env) ui.View{
		overview.New, agents.New, stacks.New, workorders.New, diagnostics.New, webhooks.New, audit.New, rollouts.New,
	}
}
