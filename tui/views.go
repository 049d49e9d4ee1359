package tui

import "github.com/brokkr/brokkr/tui/ui"

// DefaultViews returns the dashboard's tabs.
func DefaultViews() []func(*ui.Env) ui.View {
	return []func(*ui.Env) ui.View{}
}
