package server

// installDiagnostics registers its routes, workers and event hooks.
func (s *Server) installDiagnostics(g routes) {}
