package overview

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Reconnection backoff of the fleet live channel.
const (
	backoffMin = time.Second
	backoffMax = 30 * time.Second
)

// liveState says where the fleet live channel stands.
type liveState int

const (
	liveConnecting liveState = iota
	liveConnected
	liveDown
	liveOff // no broker client
)

// FrameMsg is one fleet_update frame of the live channel: an agent's new fleet record.
type FrameMsg struct {
	// Session names the connection the frame came from.
	Session uint64
	Record  client.FleetAgentRecord
	At      time.Time
	sub     *client.Subscription
}

// Release closes the channel of a frame no view reads any more.
func (m FrameMsg) Release() { ui.CloseLive(m.sub) }

// liveOpenedMsg is the outcome of dialling the live channel.
type liveOpenedMsg struct {
	session uint64
	sub     *client.Subscription
	err     error
}

// Release closes a channel no view reads.
func (m liveOpenedMsg) Release() { ui.CloseLive(m.sub) }

// liveClosedMsg reports that the live channel dropped.
type liveClosedMsg struct {
	session uint64
	err     error
}

// liveRetryMsg asks to dial again after a backoff.
type liveRetryMsg struct{ session uint64 }

func baseCtx(env *ui.Env) context.Context {
	if env.Ctx != nil {
		return env.Ctx
	}
	return context.Background()
}

// dialCmd opens the fleet live channel.
func dialCmd(env *ui.Env, cl *client.Client, session uint64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := env.Timeout() // bounds the handshake only
		defer cancel()
		sub, err := cl.Live().Fleet(ctx)
		if err != nil {
			err = fmt.Errorf("open fleet live channel: %w", err)
		}
		return ui.WithStatus(liveOpenedMsg{session: session, sub: sub, err: err}, env.Now(), err)
	}
}

// nextFrameCmd waits for the next fleet_update frame; frames of other types and bodies that
// do not decode are skipped. When the channel drops it is closed and reported.
func nextFrameCmd(env *ui.Env, sub *client.Subscription, session uint64) tea.Cmd {
	return func() tea.Msg {
		ctx := baseCtx(env)
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				_ = sub.Close()
				closed := liveClosedMsg{session: session, err: fmt.Errorf("fleet live channel: %w", err)}
				if ctx.Err() != nil {
					return closed // shutting down: nothing to report
				}
				return ui.WithStatus(closed, env.Now(), closed.err)
			}
			if m.Type != client.WSFleetUpdate {
				continue
			}
			var rec client.FleetAgentRecord
			if m.Decode(&rec) != nil {
				continue
			}
			return FrameMsg{Session: session, Record: rec, At: env.Now(), sub: sub}
		}
	}
}

func retryCmd(d time.Duration, session uint64) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return liveRetryMsg{session: session} })
}
