package server

import (
	"context"

	"github.com/google/uuid"
)

// SuppressRevocationsForTest stops this replica from announcing revocations and from
// re-checking its own sockets when it makes one: only the periodic re-check is left.
func (s *Server) SuppressRevocationsForTest() { s.live.SuppressRevocations() }

// StallFanoutForTest stops this replica's fan-out publisher until release is called.
func (s *Server) StallFanoutForTest() (release func()) { return s.live.StallFanout() }

// FloodFanoutForTest broadcasts pod_log_line frames for stack, as agents' telemetry would be,
// as fast as the fan-out queue takes them, until ctx ends: the queue stays full.
func (s *Server) FloodFanoutForTest(ctx context.Context, stack uuid.UUID) {
	s.live.FloodStack(ctx, stack)
}
