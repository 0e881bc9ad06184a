package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
)

// reachProblem is why chathook could not connect to WhatsApp, in one
// sentence for a person that says what to check. The error itself names
// resolvers, sockets and library layers: a page shows it only folded
// away, as the detail for whoever runs the server.
func reachProblem(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var netErr net.Error
	var cert *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	var inner *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "proxyconnect" && errors.As(op.Err, &inner):
		return "chathook cannot reach its proxy (--whatsapp-proxy): check that the proxy runs and that this server can reach it."
	case errors.As(err, &op) && op.Op == "proxyconnect":
		return "chathook's proxy (--whatsapp-proxy) did not connect it to WhatsApp: check the proxy's own internet access."
	case errors.As(err, &dns):
		return "chathook cannot reach WhatsApp: this server cannot look up WhatsApp's address. Check its internet access and DNS."
	case errors.As(err, &cert), errors.As(err, &record), errors.As(err, &alert), errors.As(err, &unknownCA), errors.As(err, &host):
		return "chathook reached something other than WhatsApp: the secure connection failed. A firewall or proxy on this server's network may be in the way."
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "WhatsApp did not answer in time: check this server's internet access, then retry."
	case errors.As(err, &op):
		return "chathook cannot reach WhatsApp: check this server's internet access (and any firewall in the way)."
	}
	// What is left is WhatsApp answering, but not as it should: a refused
	// handshake, a closed socket, no code sent.
	return "WhatsApp did not accept the connection: retry in a minute. If it goes on, check this server's internet access, and update chathook."
}
