package chathooktest

import (
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message an SMTPServer accepted.
type Mail struct {
	From    string
	To      []string
	Subject string
	Body    string // the raw message: headers and body
}

// SMTPServer is a real SMTP server (emersion/go-smtp) on loopback that
// keeps what it receives.
type SMTPServer struct {
	URL    string // smtp://127.0.0.1:port, for --smtp-url
	server *smtp.Server
	mu     sync.Mutex
	mails  []Mail
	more   chan struct{}
}

// NewSMTPServer serves SMTP on ln, or on a fresh loopback port when ln is
// nil, until the test ends.
func NewSMTPServer(t TB, ln net.Listener) *SMTPServer {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	s := &SMTPServer{URL: "smtp://" + ln.Addr().String(), more: make(chan struct{}, 1)}
	s.server = smtp.NewServer(backend{s})
	s.server.Domain = "localhost"
	s.server.ReadTimeout, s.server.WriteTimeout = 10*time.Second, 10*time.Second
	go s.server.Serve(ln)
	t.Cleanup(func() { s.server.Close() })
	return s
}

// Mails returns what was received so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitFor waits until n mails arrived, failing the test after timeout.
func (s *SMTPServer) WaitFor(t TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.Mails(); len(got) >= n {
			return got
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("smtp: %d of %d mails after %s", len(s.Mails()), n, timeout)
		}
	}
}

type backend struct{ s *SMTPServer }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *SMTPServer
	from string
	to   []string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error   { x.to = append(x.to, to); return nil }
func (x *session) Reset()                                      { x.from, x.to = "", nil }
func (x *session) Logout() error                               { return nil }

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Mail{From: x.from, To: x.to, Body: string(raw)}
	if msg, err := mail.ReadMessage(strings.NewReader(m.Body)); err == nil {
		m.Subject = msg.Header.Get("Subject")
	}
	x.s.mu.Lock()
	x.s.mails = append(x.s.mails, m)
	x.s.mu.Unlock()
	select {
	case x.s.more <- struct{}{}:
	default:
	}
	return nil
}
