package stacks

import (
	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// telemetryLoaded takes the stored events and log lines of the open stack; panes scrolled
// up stay on the lines they show.
func (v *Model) telemetryLoaded(msg TelemetryLoadedMsg) {
	d := v.detail
	if d == nil || msg.Session != d.session {
		return
	}
	d.telemetryReady = true
	d.telemetryErr = nil
	if msg.EventsErr != nil {
		d.telemetryErr = msg.EventsErr
	} else {
		d.evScroll += d.events.add(historyEvents(msg.Events)...) * boolInt(d.evScroll > 0)
	}
	if msg.LogsErr != nil {
		d.telemetryErr = msg.LogsErr
	} else {
		d.logScroll += d.logs.add(historyLogs(msg.Logs)...) * boolInt(d.logScroll > 0)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// liveOpened takes a new subscription, or schedules another try.
func (v *Model) liveOpened(msg LiveOpenedMsg) tea.Cmd {
	d := v.detail
	if d == nil || msg.Session != d.session {
		return ui.CloseLiveCmd(msg.sub) // the channel of a stack this view left
	}
	if msg.Err != nil {
		d.liveState, d.liveErr = "retrying", msg.Err
		return v.retryLive(d)
	}
	if msg.sub == nil {
		d.liveState, d.liveErr = "live", nil
		return nil
	}
	if d.sub != nil {
		return ui.CloseLiveCmd(msg.sub) // already connected
	}
	d.sub, d.liveState, d.liveErr = msg.sub, "live", nil
	return nextFrame(d.ctx, d.sub, d.session)
}

func (v *Model) retryLive(d *detail) tea.Cmd {
	return v.env.Tick(liveRetryMsg{session: d.session})
}

// liveFrame takes one live frame and waits for the next.
func (v *Model) liveFrame(msg LiveFrameMsg) tea.Cmd {
	d := v.detail
	if d == nil || msg.Session != d.session {
		return ui.CloseLiveCmd(msg.sub)
	}
	if msg.Err != nil {
		if d.ctx.Err() != nil {
			return nil
		}
		old := d.sub
		d.sub, d.liveState, d.liveErr = nil, "retrying", msg.Err
		return tea.Batch(ui.CloseLiveCmd(old), v.retryLive(d))
	}
	f := msg.Frame
	switch f.Type {
	case client.WSK8sEvent:
		var e client.K8sEvent
		if f.Decode(&e) == nil {
			d.evScroll += d.events.add(eventLine(e.AgentID, e.ObservedAt, e.EventType, e.Reason, e.Message, e.InvolvedObject)) * boolInt(d.evScroll > 0)
		}
	case client.WSPodLogLine:
		var l client.PodLogLine
		if f.Decode(&l) == nil {
			d.logScroll += d.logs.add(logLine(l.AgentID, l.TS, l.Namespace, l.Pod, l.Container, l.Line)) * boolInt(d.logScroll > 0)
		}
	case client.WSLogGap:
		var g client.LogGap
		if f.Decode(&g) == nil {
			at := g.SinceTS
			if at.IsZero() {
				at = v.env.Now()
			}
			d.evScroll += d.events.add(gapLine(g, at)) * boolInt(d.evScroll > 0)
			d.logScroll += d.logs.add(gapLine(g, at)) * boolInt(d.logScroll > 0)
		}
	}
	if d.sub == nil || msg.sub != d.sub {
		return nil // an injected frame, or one of a replaced subscription
	}
	return nextFrame(d.ctx, d.sub, d.session)
}
