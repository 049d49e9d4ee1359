package viewtest

import (
	"reflect"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/tui/ui"
)

// Outcome is what commands produced for the dashboard's root.
type Outcome struct {
	Flashes  []ui.FlashMsg
	Confirms []ui.ConfirmMsg
	Statuses []ui.StatusMsg
}

// LastFlash returns the newest flash (none: the zero flash).
func (o *Outcome) LastFlash() ui.FlashMsg {
	if len(o.Flashes) == 0 {
		return ui.FlashMsg{}
	}
	return o.Flashes[len(o.Flashes)-1]
}

// LastConfirm returns the newest confirmation asked for, and forgets it; it fails the test
// when none was.
func (o *Outcome) LastConfirm(t testing.TB) ui.ConfirmMsg {
	t.Helper()
	if len(o.Confirms) == 0 {
		t.Fatal("no confirmation was asked")
	}
	c := o.Confirms[len(o.Confirms)-1]
	o.Confirms = o.Confirms[:len(o.Confirms)-1]
	return c
}

// Driver runs commands synchronously, the way the program would, and hands their answers
// back: to a view, or to the dashboard.
type Driver struct {
	T testing.TB
	// View takes the answers, unless Update is set.
	View ui.View
	// Update takes the answers instead of View (the dashboard's root, say).
	Update func(tea.Msg) tea.Cmd
	// Feed tells which answers go back; an answer the dashboard routes to a view is judged
	// by what it carries. When nil, every answer that is not for the root goes back.
	Feed func(tea.Msg) bool
	// Reachable fails the test when a status reports the broker unreachable.
	Reachable bool
	// Seen holds every answer, in order; Held those that did not go back.
	Seen, Held []tea.Msg
	Outcome
}

// Types returns a Feed that takes the answers of the types of the given samples.
func Types(samples ...tea.Msg) func(tea.Msg) bool {
	types := make(map[reflect.Type]bool, len(samples))
	for _, s := range samples {
		types[reflect.TypeOf(s)] = true
	}
	return func(msg tea.Msg) bool { return types[reflect.TypeOf(msg)] }
}

// Except returns a feed that takes every answer but those of the types of the given
// samples (timers, say).
func Except(samples ...tea.Msg) func(tea.Msg) bool {
	skip := Types(samples...)
	return func(msg tea.Msg) bool { return !skip(msg) }
}

// Unwrap returns what an answer routed by the dashboard carries (any other message as it
// is).
func Unwrap(msg tea.Msg) tea.Msg {
	if r, ok := msg.(interface{ Unwrap() tea.Msg }); ok {
		return r.Unwrap()
	}
	return msg
}

// Run runs cmd and the commands its answers start, until none is left. A timer's command
// runs too (it waits), but its answer goes back only when Feed takes it: polling stops.
func (d *Driver) Run(cmd tea.Cmd) {
	d.T.Helper()
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		if b, ok := msg.(tea.BatchMsg); ok {
			queue = append(queue, b...)
			continue
		}
		if msg == nil {
			continue
		}
		inner := Unwrap(msg)
		d.Seen = append(d.Seen, inner)
		forRoot := d.record(inner)
		switch {
		case d.Feed != nil && d.Feed(inner), d.Feed == nil && !forRoot:
			queue = append(queue, d.send(msg))
		case !forRoot:
			d.Held = append(d.Held, inner)
		}
	}
}

// record keeps what is meant for the root and reports whether msg was.
func (d *Driver) record(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case ui.FlashMsg:
		d.Flashes = append(d.Flashes, msg)
	case ui.ConfirmMsg:
		d.Confirms = append(d.Confirms, msg)
	case ui.StatusMsg:
		if d.Reachable && msg.Err != nil {
			d.T.Fatalf("status reports an unreachable broker: %v", msg.Err)
		}
		d.Statuses = append(d.Statuses, msg)
	default:
		return false
	}
	return true
}

func (d *Driver) send(msg tea.Msg) tea.Cmd {
	if d.Update != nil {
		return d.Update(msg)
	}
	var cmd tea.Cmd
	d.View, cmd = d.View.Update(msg)
	return cmd
}

// Key sends a key and returns its command, not run.
func (d *Driver) Key(k string) tea.Cmd { return d.send(Key(k)) }

// Press sends keys, running the commands of each.
func (d *Driver) Press(keys ...string) {
	d.T.Helper()
	for _, k := range keys {
		d.Run(d.Key(k))
	}
}

// Type types text, one key press a character; the commands of typing (cursor blinks) are
// not run.
func (d *Driver) Type(text string) {
	for _, r := range text {
		d.Key(string(r))
	}
}

// Drive runs cmd as the program would, handing every answer of v's but those that feed
// rejects (timers: the polling stops) back to it, and returns the view and what the root
// got.
func Drive(t testing.TB, v ui.View, cmd tea.Cmd, feed func(tea.Msg) bool) (ui.View, Outcome) {
	t.Helper()
	d := &Driver{T: t, View: v, Feed: func(msg tea.Msg) bool {
		switch msg.(type) {
		case ui.FlashMsg, ui.ConfirmMsg, ui.StatusMsg:
			return false
		}
		return feed(msg)
	}}
	d.Run(cmd)
	return d.View, d.Outcome
}

// Messages runs cmd and the batches it answers with, and returns the answers (commands
// that wait, like timers, must not be passed).
func Messages(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, Messages(c)...)
		}
		return out
	default:
		return []tea.Msg{msg}
	}
}
