package web

import "net/http"

// ClientAddress is who a request comes from, as the sign-in limits count
// it (see clientAddress): for other parts of the service that share out
// something per client, such as the memory for request bodies.
func (s *Server) ClientAddress(r *http.Request) string { return s.clientAddress(r) }
