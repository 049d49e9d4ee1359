package server

import (
	"context"
	"time"

	"github.com/brokkr/brokkr/server/audit"
)

// ResolveForTest exposes PAK resolution to the benchmarks of package server_test.
func (s *Server) ResolveForTest(ctx context.Context, header string) (Identity, error) {
	return s.resolve(ctx, header)
}

// ListeningForTest reports whether the cross-replica notification listener is connected.
func (s *Server) ListeningForTest() bool { return s.listener.Listening() }

// AuditForTest records a system audit entry, as a background worker would.
func (s *Server) AuditForTest(e audit.Entry) { s.audit(nil, e) }

// SetAuditClockForTest replaces the clock of the auth.failed rate limiter.
func (s *Server) SetAuditClockForTest(now func() time.Time) { s.auditor.SetClock(now) }

// TargetCacheLenForTest returns the number of target-state answers kept in memory.
func (s *Server) TargetCacheLenForTest() int { return s.targets.Len() }

// SetTargetNotifyDelayForTest delays the target-state cache's handling of each notification.
func (s *Server) SetTargetNotifyDelayForTest(d time.Duration) { s.targets.SetNotifyDelay(d) }
