package server

import "context"

// ResolveForTest exposes PAK resolution to the benchmarks of package server_test.
func (s *Server) ResolveForTest(ctx context.Context, header string) (Identity, error) {
	return s.resolve(ctx, header)
}

// ListeningForTest reports whether the cross-replica auth eviction listener is connected.
func (s *Server) ListeningForTest() bool { return s.listening.Load() }

// AuditForTest records a system audit entry, as a background worker would.
func (s *Server) AuditForTest(e AuditEntry) { s.audit(nil, e) }
