package server

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// SuppressRevocationsForTest stops this replica from announcing revocations and from
// re-checking its own sockets when it makes one: only the periodic re-check is left.
func (s *Server) SuppressRevocationsForTest() { s.live.rev.suppressed.Store(true) }

// StallFanoutForTest stops this replica's fan-out publisher until release is called.
func (s *Server) StallFanoutForTest() (release func()) {
	s.live.fan.hold.Lock()
	return s.live.fan.hold.Unlock
}

// FloodFanoutForTest broadcasts pod_log_line frames for stack, as agents' telemetry would be,
// as fast as the fan-out queue takes them, until ctx ends: the queue stays full.
func (s *Server) FloodFanoutForTest(ctx context.Context, stack uuid.UUID) {
	f, err := encodeFrame(client.WSPodLogLine, client.PodLogLine{
		AgentID: uuid.New(), StackID: stack, Namespace: "flood", Pod: "flood", Container: "flood",
		TS: time.Now().UTC(), Line: "flood",
	})
	if err != nil {
		panic(err)
	}
	h := s.live
	for ctx.Err() == nil {
		if len(h.fan.out) == cap(h.fan.out) {
			time.Sleep(50 * time.Microsecond)
		}
		h.stackFrame(stack, f)
	}
}

// ResolveHashesForTest resolves PAK hashes the way socket re-checks do.
func (s *Server) ResolveHashesForTest(ctx context.Context, hashes []string) (map[string]Identity, error) {
	return s.live.resolveHashes(ctx, hashes)
}
