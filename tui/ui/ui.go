// Package ui holds what every view of brokkrctl tui shares: the View contract, the
// environment views run in (broker client, clock, styles), messages, styles, keys and small
// rendering helpers.
package ui

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
)

// Env is what views need from the outside world.
type Env struct {
	// Client talks to the broker of the current context.
	Client *client.Client
	// Now is the clock (fixed in tests).
	Now func() time.Time
	// Styles render the views (adaptive to the background, plain with NO_COLOR).
	Styles *Styles
	// Ctx bounds every request a view makes.
	Ctx context.Context
	// RefreshEvery is the polling period of views that poll (5 s by default).
	RefreshEvery time.Duration

	active string
}

// SetActive records which view (by title) is on screen; the root calls it.
func (e *Env) SetActive(title string) { e.active = title }

// Active reports whether the view of this title is on screen, or whether no view was
// marked at all (a view on its own, in tests). Views poll their data only while active, so
// a dashboard of eight tabs asks the broker for one tab's data at a time.
func (e *Env) Active(title string) bool { return e.active == "" || e.active == title }

// Tick returns a command that answers msg after the polling period (5 s when unset).
func (e *Env) Tick(msg tea.Msg) tea.Cmd {
	every := e.RefreshEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	return tea.Tick(every, func(time.Time) tea.Msg { return msg })
}

// Poll answers the polling timer of the view of this title: on screen the view reloads and
// its timer runs again; off screen only the timer runs, and the view asks nothing until it
// is shown.
func (e *Env) Poll(title string, reload func() tea.Cmd, timer tea.Msg) tea.Cmd {
	if !e.Active(title) {
		return e.Tick(timer)
	}
	return tea.Batch(reload(), e.Tick(timer))
}

// ActivatedMsg tells the views that the one of this title came on screen; it refreshes at
// once instead of waiting for its next poll.
type ActivatedMsg struct{ Title string }

// Timeout returns a context for one request (10 s).
func (e *Env) Timeout() (context.Context, context.CancelFunc) {
	ctx := e.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, 10*time.Second)
}

// View is one tab of the dashboard. The root model hands keys to the active view and the
// answers of a view's commands to that view only, draws the tab bar, status line and help,
// and gives the view the rest of the screen.
type View interface {
	// Title is the tab's name.
	Title() string
	// Init starts the view's first load.
	Init() tea.Cmd
	// Update handles a message: a key (or a paste) of the active view, an answer of one of
	// the view's own commands, or a message for every view (ActivatedMsg, a terminal
	// report).
	Update(msg tea.Msg) (View, tea.Cmd)
	// Render draws the view into width×height cells.
	Render(width, height int) string
	// Keys lists the view's own key bindings, for the help overlay and the footer.
	Keys() []key.Binding
	// Capturing reports that the view is taking text input (a filter, a form), so the root
	// must pass every key to it instead of acting on global keys.
	Capturing() bool
}

// Releaser is an answer that holds something to let go of (a live subscription) when no
// view takes it: the view that asked was replaced when the dashboard switched context.
type Releaser interface {
	Release()
}

// FlashMsg shows a short message in the status line (an action's outcome).
type FlashMsg struct {
	Text  string
	Error bool
}

// ConfirmMsg asks the root to confirm a destructive action; On runs when the user says yes.
type ConfirmMsg struct {
	Prompt string
	On     tea.Cmd
}

// Flash returns a command that shows text in the status line.
func Flash(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return FlashMsg{Text: text, Error: isErr} }
}

// Confirm returns a command that asks before running on.
func Confirm(prompt string, on tea.Cmd) tea.Cmd {
	return func() tea.Msg { return ConfirmMsg{Prompt: prompt, On: on} }
}
