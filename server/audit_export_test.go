package server

import "time"

// SetAuditClockForTest replaces the clock of the auth.failed rate limiter.
func (s *Server) SetAuditClockForTest(now func() time.Time) {
	l := s.auditor.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}
