package web

// SetSignInKept bounds the failed sign-ins s keeps, so a test can flood
// past the bound with a few dozen sign-ins instead of 100,000.
func SetSignInKept(s *Server, n int) { s.limiter.kept = n }
