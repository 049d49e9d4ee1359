package ui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are the dashboard's styles for one background.
type Styles struct {
	Title, Tab, ActiveTab, Header, Selected, Muted, Good, Warn, Bad, Key, Border, Flash, FlashErr lipgloss.Style
	NoColor                                                                                       bool
}

// NewStyles returns styles for a dark or light background; noColor drops every colour (the
// NO_COLOR convention) and keeps only bold and reverse for emphasis.
func NewStyles(dark, noColor bool) *Styles {
	pick := lipgloss.LightDark(dark)
	c := func(light, darkC string) color.Color { return pick(lipgloss.Color(light), lipgloss.Color(darkC)) }
	s := &Styles{NoColor: noColor}
	if noColor {
		plain := lipgloss.NewStyle()
		s.Title = plain.Bold(true)
		s.Tab = plain
		s.ActiveTab = plain.Bold(true).Reverse(true)
		s.Header = plain.Bold(true)
		s.Selected = plain.Reverse(true)
		s.Muted, s.Good, s.Warn, s.Bad, s.Key, s.Flash = plain, plain, plain, plain.Bold(true), plain.Bold(true), plain
		s.FlashErr = plain.Bold(true)
		s.Border = plain.Border(lipgloss.NormalBorder())
		return s
	}
	accent := c("#5A3FD6", "#9D8CFF")
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Tab = lipgloss.NewStyle().Foreground(c("#555555", "#A0A0A0")).Padding(0, 1)
	s.ActiveTab = lipgloss.NewStyle().Bold(true).Foreground(c("#FFFFFF", "#1A1A1A")).Background(accent).Padding(0, 1)
	s.Header = lipgloss.NewStyle().Bold(true).Foreground(c("#333333", "#DDDDDD"))
	s.Selected = lipgloss.NewStyle().Foreground(c("#FFFFFF", "#1A1A1A")).Background(accent)
	s.Muted = lipgloss.NewStyle().Foreground(c("#777777", "#8A8A8A"))
	s.Good = lipgloss.NewStyle().Foreground(c("#1E7B34", "#5FD068"))
	s.Warn = lipgloss.NewStyle().Foreground(c("#9A6700", "#E3B341"))
	s.Bad = lipgloss.NewStyle().Bold(true).Foreground(c("#C62828", "#FF6B6B"))
	s.Key = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Border = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent)
	s.Flash = lipgloss.NewStyle().Foreground(c("#1E7B34", "#5FD068"))
	s.FlashErr = lipgloss.NewStyle().Bold(true).Foreground(c("#C62828", "#FF6B6B"))
	return s
}

// Status styles a status word: green for good states, yellow for in-between ones, red for
// bad ones, muted for unknown.
func (s *Styles) Status(v string) string {
	switch v {
	case "ACTIVE", "healthy", "SUCCESS", "success", "COMPLETED", "completed", "applied":
		return s.Good.Render(v)
	case "degraded", "PENDING", "pending", "CLAIMED", "claimed", "RETRY_PENDING", "INACTIVE", "stale":
		return s.Warn.Render(v)
	case "failing", "FAILURE", "failed", "FAILED", "dead", "expired", "unreachable":
		return s.Bad.Render(v)
	}
	return s.Muted.Render(v)
}
