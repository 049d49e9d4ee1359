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
	// ViewID and Session name the view instance and the connection the frame came from.
	ViewID, Session uint64
	Record          client.FleetAgentRecord
	At              time.Time
	sub             *client.Subscription
	client          *client.Client
}

// liveOpenedMsg is the outcome of dialling the live channel.
type liveOpenedMsg struct {
	viewID, session uint64
	sub             *client.Subscription
	client          *client.Client
	err             error
}

// liveClosedMsg reports that the live channel dropped.
type liveClosedMsg struct {
	viewID, session uint64
	client          *client.Client
	err             error
}

// liveRetryMsg asks to dial again after a backoff.
type liveRetryMsg struct{ viewID, session uint64 }

func baseCtx(env *ui.Env) context.Context {
	if env.Ctx != nil {
		return env.Ctx
	}
	return context.Background()
}

// dialCmd opens the fleet live channel.
func dialCmd(env *ui.Env, cl *client.Client, viewID, session uint64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := env.Timeout() // bounds the handshake only
		defer cancel()
		sub, err := cl.Live().Fleet(ctx)
		if err != nil {
			err = fmt.Errorf("open fleet live channel: %w", err)
		}
		opened := liveOpenedMsg{viewID: viewID, session: session, sub: sub, client: cl, err: err}
		st := ui.StatusMsg{At: env.Now(), Err: err}
		return tea.BatchMsg{
			func() tea.Msg { return opened },
			func() tea.Msg { return st },
		}
	}
}

// nextFrameCmd waits for the next fleet_update frame; frames of other types and bodies that
// do not decode are skipped. When the channel drops it is closed and reported.
func nextFrameCmd(env *ui.Env, cl *client.Client, sub *client.Subscription, viewID, session uint64) tea.Cmd {
	return func() tea.Msg {
		ctx := baseCtx(env)
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				_ = sub.Close()
				closed := liveClosedMsg{viewID: viewID, session: session, client: cl, err: fmt.Errorf("fleet live channel: %w", err)}
				if ctx.Err() != nil {
					return closed // shutting down: nothing to report
				}
				st := ui.StatusMsg{At: env.Now(), Err: closed.err}
				return tea.BatchMsg{
					func() tea.Msg { return closed },
					func() tea.Msg { return st },
				}
			}
			if m.Type != client.WSFleetUpdate {
				continue
			}
			var rec client.FleetAgentRecord
			if m.Decode(&rec) != nil {
				continue
			}
			return FrameMsg{ViewID: viewID, Session: session, Record: rec, At: env.Now(), sub: sub, client: cl}
		}
	}
}

func closeCmd(sub *client.Subscription) tea.Cmd {
	if sub == nil {
		return nil
	}
	return func() tea.Msg {
		_ = sub.Close()
		return nil
	}
}

func retryCmd(d time.Duration, viewID, session uint64) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return liveRetryMsg{viewID: viewID, session: session} })
}
