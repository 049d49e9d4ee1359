package live

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// Hooks for tests of the broker's revocation and fan-out under stress.

// SuppressRevocations stops this replica from announcing revocations and from re-checking
// its own sockets when it makes one: only the periodic re-check is left.
func (h *Hub) SuppressRevocations() { h.rev.suppressed.Store(true) }

// StallFanout stops this replica's fan-out publisher until release is called.
func (h *Hub) StallFanout() (release func()) {
	h.fan.hold.Lock()
	return h.fan.hold.Unlock
}

// FloodStack broadcasts pod_log_line frames for stack, as agents' telemetry would be, as
// fast as the fan-out queue takes them, until ctx ends: the queue stays full.
func (h *Hub) FloodStack(ctx context.Context, stack uuid.UUID) {
	f, err := encodeFrame(client.WSPodLogLine, client.PodLogLine{
		AgentID: uuid.New(), StackID: stack, Namespace: "flood", Pod: "flood", Container: "flood",
		TS: time.Now().UTC(), Line: "flood",
	})
	if err != nil {
		panic(err)
	}
	for ctx.Err() == nil {
		if len(h.fan.out) == cap(h.fan.out) {
			time.Sleep(50 * time.Microsecond)
		}
		h.stackFrame(stack, f)
	}
}
