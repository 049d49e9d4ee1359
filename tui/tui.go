package tui

import (
	"context"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Options configure the dashboard.
type Options struct {
	Client *client.Client
	// BrokerURL and ContextName are shown in the status line.
	BrokerURL   string
	ContextName string
	// Contexts lists the configured contexts; SwitchContext returns a client for one of them
	// (the picker is offered when both are set).
	Contexts      []string
	SwitchContext func(name string) (*client.Client, error)
	// NoColor drops colours (NO_COLOR); Dark is the assumed background until the terminal
	// answers.
	NoColor bool
	Dark    bool
	// RefreshEvery is the polling period (5 s when 0).
	RefreshEvery time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Views are the tabs, in order (DefaultViews when nil).
	Views []func(*ui.Env) ui.View
	// Input and Output replace the terminal (tests).
	Input  io.Reader
	Output io.Writer
}

// New builds the root model for opts.
func New(ctx context.Context, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 5 * time.Second
	}
	if opts.Views == nil {
		opts.Views = DefaultViews()
	}
	env := &ui.Env{Client: opts.Client, Now: opts.Now, Styles: ui.NewStyles(opts.Dark, opts.NoColor), Ctx: ctx, RefreshEvery: opts.RefreshEvery}
	views := make([]ui.View, len(opts.Views))
	for i, f := range opts.Views {
		views[i] = f(env)
	}
	return NewModel(env, opts, views)
}

// Run shows the dashboard until the user quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	m := New(ctx, opts)
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	if err != nil && ctx.Err() != nil {
		return nil // interrupted: not an error of the dashboard
	}
	return err
}
