package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Global key bindings; views add their own (see View.Keys).
var (
	KeyQuit    = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit"))
	KeyHelp    = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help"))
	KeyNextTab = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next view"))
	KeyPrevTab = key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous view"))
	KeyTabN    = key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8"), key.WithHelp("1-8", "go to view"))
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

	// Keys of pages that scroll and of text input, as the footer names them.
	KeyScroll = key.NewBinding(key.WithKeys("up", "k", "down", "j"), key.WithHelp("↑↓/jk", "scroll"))
	KeyPage   = key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "page"))
	KeyCancel = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
)

// ScrollKey applies a scrolling key to a page's offset: up and down move it by a line,
// pgup and pgdown by page lines, home (g) to the top and end (G) to last. It reports
// whether k is such a key; the caller keeps the offset within the page.
func ScrollKey(k tea.KeyPressMsg, offset, page, last int) (int, bool) {
	switch {
	case key.Matches(k, KeyUp):
		offset--
	case key.Matches(k, KeyDown):
		offset++
	case key.Matches(k, KeyPgUp):
		offset -= page
	case key.Matches(k, KeyPgDown):
		offset += page
	case k.String() == "home" || k.String() == "g":
		offset = 0
	case k.String() == "end" || k.String() == "G":
		offset = last
	default:
		return offset, false
	}
	return offset, true
}
