package ui

import "charm.land/bubbles/v2/key"

// Global key bindings; views add their own (see View.Keys).
var (
	KeyQuit    = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit"))
	KeyHelp    = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help"))
	KeyNextTab = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next view"))
	KeyPrevTab = key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous view"))
	KeyTabN    = key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7"), key.WithHelp("1-7", "go to view"))
	KeyContext = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "switch context"))
	KeyRefresh = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh"))

	// Common view keys, so every view speaks the same language.
	KeyUp     = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up"))
	KeyDown   = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down"))
	KeyPgUp   = key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up"))
	KeyPgDown = key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "page down"))
	KeyOpen   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open"))
	KeyBack   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	KeyFilter = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter"))
	KeyDelete = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete"))
)
