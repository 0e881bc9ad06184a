package app

// Conns returns how many HTTP connections s holds open, how many of them
// are idle, and the most it ever held open at once.
func Conns(s *Service) (open, idle, most int) { return s.conns.counts() }
