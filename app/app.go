// Package app wires chathook's parts into one service: the store, the
// HTTP API and the dispatcher. cmd/chathook parses settings and calls it;
// tests run the same service in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/bundle"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/live"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/metrics"
	"github.com/chathook/chathook/notify"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/store/tables"
	"github.com/chathook/chathook/web"
	"github.com/google/uuid"
)

// Config is every setting of the service, read once at start.
type Config struct {
	Addr                string
	DB                  string
	BaseURL             string
	SMTPURL             string
	MailFrom            string
	AllowPrivateTargets bool
	// GraphAPIURL is Meta's Graph API, through which Cloud API numbers
	// send replies (cloudapi.Graph.URL); "" is cloudapi.DefaultGraphURL.
	GraphAPIURL string
	// MetricsAddr is where Prometheus metrics are served, at /metrics,
	// on a listener of their own; "" serves none (and counts nothing).
	MetricsAddr string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For the web
	// UI believes when it counts failed sign-ins per client; see web.Config.
	TrustedProxies []netip.Prefix

	// MediaMaxBytes is the largest attachment downloaded (0:
	// media.DefaultMaxBytes); MediaRetention how long one is kept (0:
	// media.DefaultRetention); MediaBackoff the waits between tries of a
	// download (nil: media.DefaultBackoff).
	MediaMaxBytes  int64
	MediaRetention time.Duration
	MediaBackoff   []time.Duration
	MediaWorkers   int // downloads at once (0: media.DefaultWorkers)

	// LogRetention is how long the detailed log keeps an attempt: 30 days.
	LogRetention time.Duration
	// MailPoll is how often the outbox is read, MailSchedule the waits
	// between tries of a send; zero values take notify's defaults.
	MailPoll     time.Duration
	MailSchedule []time.Duration

	// Delivery tuning; zero values take deliver's defaults.
	DeliveryTimeout time.Duration
	DeliveryGrace   time.Duration
	Lease           time.Duration
	RetrySchedule   []time.Duration

	// ActivityRefresh is how often the settings page reloads its activity
	// log; zero takes web's default.
	ActivityRefresh time.Duration

	// ReadTimeout is how long a request, body included, may take to
	// arrive (zero: DefaultReadTimeout); a body still arriving then is
	// answered 408. StreamWriteTimeout is how long a log download may
	// wait for its client to take each row (zero: api's default).
	ReadTimeout        time.Duration
	StreamWriteTimeout time.Duration
	// BodyBudget is the memory, in bytes, that request bodies may take at
	// once (zero: api.DefaultBodyBudget); past it, 503 with Retry-After.
	BodyBudget int64
	// BodyGrace and BodyMinRate (bytes a second) cut a body that trickles
	// with 408: after BodyGrace it must have arrived at BodyMinRate. Zero
	// values take api.DefaultBodyGrace and api.DefaultBodyMinRate.
	BodyGrace   time.Duration
	BodyMinRate int64
	// MaxConnections caps the HTTP connections open at once (zero:
	// DefaultMaxConnections); at the cap the one idle the longest is
	// closed, and with none idle new ones wait to be accepted.
	MaxConnections int

	// WhatsApp is how accounts linked by QR code reach WhatsApp: nil is
	// WhatsApp itself. Tests put a network of their own behind it.
	WhatsApp whatsweb.Network
	// WhatsAppProxy is the proxy the QR accounts' connections go through
	// when WhatsApp is nil (whatsweb.Whatsmeow.Proxy, as
	// whatsweb.CheckProxy takes it); "" is none.
	WhatsAppProxy string
	// AccountLease is how long an instance holds a linked account without
	// renewing it; zero takes whatsweb.DefaultLease.
	AccountLease time.Duration
	// ReplyBackoff, ReplyMaxWait and ReplyLease tune the attempts of
	// replies sent from chathook; zero values take reply's defaults.
	ReplyBackoff func(n int) time.Duration
	ReplyMaxWait time.Duration
	ReplyLease   time.Duration
	// WhatsAppSendRate is how many replies an account sends a minute at
	// most, evenly (one every minute/rate), per instance
	// (reply.Config.SendRate); 0: no limit. The serve command's default
	// is reply.DefaultSendRate.
	WhatsAppSendRate int

	Logger *slog.Logger
	// Console is where the first-run setup link is printed, for the person
	// who started chathook (the terminal's stderr); nil: nowhere (tests
	// that create their workspaces themselves).
	Console io.Writer
	// Now is the clock of everything that keeps time (received_at, windows,
	// retries); nil means time.Now. Tests move it to cross windows.
	Now func() time.Time
}

// OpenStore opens the database a --db value names: a SQLite file, as a
// plain path ("./data/chathook.db") or "sqlite:<path>" (the default), or
// "postgres://..." / "postgresql://..." for PostgreSQL, which several
// instances can share (see docs/postgres.md). A SQLite file is created if
// missing; SQLitePath tells a caller that must not create one which file
// it is.
func OpenStore(ctx context.Context, db string) (store.Store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return postgres.Open(ctx, db)
	}
	path, err := SQLitePath(db)
	if err != nil {
		return nil, err
	}
	// The folder is not created: a mistyped path would otherwise start an
	// empty database beside the real one.
	if dir := filepath.Dir(path); dir != "." {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--db: the folder %s does not exist: create it, or give another path", dir)
		}
	}
	return sqlite.Open(ctx, path)
}

// SQLitePath returns the file of a --db value that selects SQLite: the
// path of "sqlite:<path>", or db itself when it is a plain path. A
// PostgreSQL URL returns "" and no error; any other URL is an error.
func SQLitePath(db string) (string, error) {
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return "", nil
	case strings.HasPrefix(db, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(db, "sqlite:"), "//")
		if path == "" {
			return "", errors.New(`--db: "sqlite:" needs a file path, e.g. sqlite:chathook.db`)
		}
		return path, nil
	case db == "":
		return "", errors.New("--db: empty; give a file path such as ./chathook.db, or postgres://user:password@host:port/database")
	case strings.Contains(db, "://"):
		// Not %q of db: a mistyped PostgreSQL URL may hold a password.
		scheme, _, _ := strings.Cut(db, "://")
		if strings.ContainsFunc(scheme, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			scheme = "this URL's scheme"
		}
		return "", fmt.Errorf("--db: %s:// is not a database chathook knows; use sqlite:<path> or postgres://user:password@host:port/database, or a plain file path", scheme)
	case looksLikeURL(db) || (strings.Contains(db, "=") && strings.Contains(db, " ")):
		// A URL a slash short, or a keyword DSN ("host=db password=…"):
		// not a file to create, and not echoed, as it may hold a password.
		return "", errors.New("--db: this is neither a file path nor a URL chathook knows; use sqlite:<path> or postgres://user:password@host:port/database, or a plain file path")
	}
	return db, nil
}

// looksLikeURL reports whether db starts with a scheme of two or more
// letters and a colon ("postgres:/u:pw@h/db", a slash short): not taken
// for a file path, which would start an empty database named after it.
// One letter is a Windows drive ("C:\\data\\chathook.db").
func looksLikeURL(db string) bool {
	scheme, _, ok := strings.Cut(db, ":")
	if !ok || len(scheme) < 2 {
		return false
	}
	for i, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '.' || r == '-')) {
			return false
		}
	}
	return true
}

// Created is what `workspace create` prints: the only time the API token
// is shown, since only its hash is stored.
type Created struct {
	WorkspaceID   string `json:"workspace_id"`
	APIToken      string `json:"api_token"`
	WebhookSecret string `json:"webhook_secret"`
}

// CreateWorkspace creates a workspace with a fresh API token, named
// "default", and signing secret.
func CreateWorkspace(ctx context.Context, st store.Store, name, ownerEmail, ownerName string) (Created, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Created{}, errors.New("--name is required")
	}
	if ownerEmail == "" {
		return Created{}, errors.New("--owner-email is required")
	}
	if addr, err := mail.ParseAddress(ownerEmail); err != nil || addr.Address != ownerEmail {
		return Created{}, fmt.Errorf("--owner-email: %q is not an email address", ownerEmail)
	}
	token, hash := api.NewToken()
	secret := payload.NewSecret()
	ws, err := st.CreateWorkspace(ctx, chathook.Workspace{
		ID: uuid.NewString(), Name: name, OwnerName: ownerName, OwnerEmail: ownerEmail, CreatedAt: time.Now().UTC(),
	}, hash, secret)
	if err != nil {
		return Created{}, err
	}
	return Created{WorkspaceID: ws.ID, APIToken: token, WebhookSecret: secret}, nil
}

// Service is chathook running: the HTTP API and the dispatcher.
type Service struct {
	cfg        Config
	store      store.Store
	dispatcher *deliver.Dispatcher
	bundler    *bundle.Flusher
	notifier   *notify.Notifier
	whatsapp   *whatsweb.Manager
	replies    *reply.Sender
	downloads  *media.Downloader
	observer   media.Observer // nil without metrics
	sweep      chan struct{}  // kicks the media sweeper
	handler    http.Handler
	metrics    net.Listener // nil without Config.MetricsAddr
	metricsSet *metrics.Set
	conns      *connLimit // Config.MaxConnections, on the HTTP listener
	hub        *live.Hub
	relay      *live.Relay // nil on a database of one instance (SQLite)

	kill     chan struct{} // closed by Kill
	killOnce sync.Once
}

// DefaultLogRetention keeps a month of attempts: enough to troubleshoot
// last month's invoice run, small enough not to grow without end.
const DefaultLogRetention = 30 * 24 * time.Hour

// DefaultReadTimeout is how long a request may take to arrive: a 32 MiB
// batch needs 60 s only on a link slower than 4.5 Mbit/s.
const DefaultReadTimeout = 60 * time.Second

// DefaultMailFrom is the sender of owner emails when --mail-from is not set.
const DefaultMailFrom = "chathook@localhost"

// New assembles the service on an open store.
func New(cfg Config, st store.Store) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LogRetention <= 0 {
		cfg.LogRetention = DefaultLogRetention
	}
	if cfg.MailFrom == "" {
		cfg.MailFrom = DefaultMailFrom
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections()
	}
	if cfg.MediaRetention <= 0 {
		cfg.MediaRetention = media.DefaultRetention
	}
	var (
		m        *metrics.Set
		observer media.Observer
		recorded func(deliver.Recorded)
		flushed  func(time.Duration, int, int)
		request  func(string, int, time.Duration)
	)
	dispatched := st // the dispatcher ingests nothing, and must see the store's HandTo
	if cfg.MetricsAddr != "" {
		m = metrics.New(st, cfg.Logger)
		// Every source and the API ingest through the store: counted there,
		// none of them needs to know.
		st = countedStore{Store: st, m: m}
		recorded, flushed, request, observer = m.Recorded, m.Flushed, m.Request, m
	}
	// Every part writes through the hub's decorator, so that open tabs
	// hear of each change that their pages show, whoever made it; on a
	// database shared by instances (PostgreSQL) a relay tells the others.
	hub := live.NewHub()
	var relay *live.Relay
	if ch, ok := dispatched.(live.Channel); ok { // the database's own, not a wrapper's
		relay = live.NewRelay(hub, ch, cfg.Logger)
	}
	st = live.Wrap(st, hub)
	n, err := notify.New(notify.Config{
		Store: st, SMTPURL: cfg.SMTPURL, From: cfg.MailFrom, BaseURL: cfg.BaseURL, Logger: cfg.Logger, Poll: cfg.MailPoll,
		Schedule: cfg.MailSchedule, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	d := deliver.New(deliver.Config{
		Store: dispatched, BaseURL: strings.TrimSuffix(cfg.BaseURL, "/"), Logger: cfg.Logger,
		Timeout: cfg.DeliveryTimeout, Grace: cfg.DeliveryGrace, Lease: cfg.Lease, Schedule: cfg.RetrySchedule,
		AllowPrivateTargets: cfg.AllowPrivateTargets, Now: cfg.Now, Recorded: recorded,
	})
	b := bundle.New(bundle.Config{Store: st, Logger: cfg.Logger, Now: cfg.Now, Queued: d.Kick, Flushed: flushed})
	// A message stored with a file to download wakes the downloader; it
	// is made once the sources it downloads from are.
	var dl *media.Downloader
	st = pendingStore{Store: st, kick: func() { dl.Kick() }}
	// The linked accounts' leases carry the dispatcher's name: one name
	// per instance in the database.
	network := cfg.WhatsApp
	if network == nil {
		if err := whatsweb.CheckProxy(cfg.WhatsAppProxy); err != nil {
			return nil, fmt.Errorf("--whatsapp-proxy: %w", err)
		}
		network = whatsweb.Whatsmeow{Logger: cfg.Logger, Proxy: cfg.WhatsAppProxy}
	}
	wa, err := whatsweb.New(context.Background(), whatsweb.Config{
		Store: st, Network: network, Owner: d.Owner(), Lease: cfg.AccountLease,
		Queued: d.Ingested, Logger: cfg.Logger, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("WhatsApp sessions: %w", err)
	}
	// A message with attachments waits for its downloads, which settle
	// its deliveries: the dispatcher is kicked then. A QR account's files
	// come through its connection, so the downloader's leases carry the
	// same name as the accounts'.
	dl = media.NewDownloader(media.Config{
		Store: st, Owner: d.Owner(), MaxBytes: cfg.MediaMaxBytes, Backoff: cfg.MediaBackoff, Workers: cfg.MediaWorkers,
		Fetchers: map[chathook.AccountKind]media.Fetcher{
			chathook.KindWeb: wa.Fetcher(), chathook.KindCloudAPI: cloudapi.Graph{URL: cfg.GraphAPIURL},
		},
		Settled: d.Kick, Observer: observer, Logger: cfg.Logger, Now: cfg.Now,
	})
	// Replies carry the same name on their leases.
	replies := reply.New(reply.Config{
		Store: st, Owner: d.Owner(), WhatsApp: wa, CloudAPI: cloudapi.Graph{URL: cfg.GraphAPIURL},
		Queued: d.Kick, Logger: cfg.Logger, Now: cfg.Now,
		Backoff: cfg.ReplyBackoff, MaxWait: cfg.ReplyMaxWait, Lease: cfg.ReplyLease, SendRate: cfg.WhatsAppSendRate,
	})
	apiHandler := api.New(api.Config{
		Store: st, Logger: cfg.Logger, AllowPrivateTargets: cfg.AllowPrivateTargets, Queued: d.Kick, Ingested: d.Ingested, Bundles: b, Tester: d, Now: cfg.Now,
		StreamWriteTimeout: cfg.StreamWriteTimeout, BodyBudget: cfg.BodyBudget,
		BodyGrace: cfg.BodyGrace, BodyMinRate: cfg.BodyMinRate, ReadTimeout: cfg.ReadTimeout, BaseURL: cfg.BaseURL, WhatsApp: wa,
		Replies: replies,
	})
	webHandler, err := web.New(web.Config{
		Store: st, BaseURL: cfg.BaseURL, AllowPrivateTargets: cfg.AllowPrivateTargets, Tester: d,
		StreamWriteTimeout: cfg.StreamWriteTimeout,
		// Saved settings may make deliveries due, or end a window early.
		Queued: func() { d.Kick(); b.Kick() },
		Logger: cfg.Logger, RefreshEvery: cfg.ActivityRefresh, Now: cfg.Now,
		TrustedProxies: cfg.TrustedProxies, WhatsApp: wa, Replies: replies, Live: hub,
		Mail: cfg.SMTPURL != "",
	})
	if err != nil {
		_ = wa.Close(context.Background())
		return nil, err
	}
	// The API keeps /api/ and /healthz, Meta's webhook /sources/cloud-api/;
	// every other path is the web UI.
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/healthz", apiHandler)
	// Meta's webhook has no token: its bodies are charged to the client
	// address, as the web UI tells it (X-Forwarded-For of trusted proxies).
	mux.Handle("/sources/cloud-api/", apiHandler.Bodies(cloudapi.MaxBody, webHandler.ClientAddress,
		cloudapi.New(cloudapi.Config{Store: st, Logger: cfg.Logger, Queued: d.Ingested, Now: cfg.Now})))
	// An attachment's link is its own credential (media.Link).
	mux.Handle("/media/{token}", media.Handler(func(ctx context.Context, id int64) (chathook.Attachment, error) {
		a, _, err := st.MediaFile(ctx, id)
		return a, err
	}, st.Blobs(), cfg.Now))
	mux.Handle("/", webHandler)
	svc := &Service{cfg: cfg, store: st, dispatcher: d, bundler: b, notifier: n, whatsapp: wa, replies: replies,
		downloads: dl, observer: observer, sweep: make(chan struct{}, 1), hub: hub, relay: relay,
		handler: requests(cfg.Logger, request, mux), metricsSet: m, kill: make(chan struct{}),
		conns: newConnLimit(cfg.MaxConnections)}
	if cfg.MetricsAddr != "" {
		// Listened on here, so that a taken port fails the start.
		if svc.metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			_ = wa.Close(context.Background())
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
	}
	return svc, nil
}

// MetricsAddr is the address metrics are served on ("" when they are
// not), e.g. for a Config.MetricsAddr of port 0.
func (s *Service) MetricsAddr() string {
	if s.metrics == nil {
		return ""
	}
	return s.metrics.Addr().String()
}

// countedStore is the store with every Ingest's answers counted.
type countedStore struct {
	store.Store
	m *metrics.Set
}

func (c countedStore) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	res, err := c.Store.Ingest(ctx, workspaceID, now, msgs)
	if err == nil { // a failed Ingest stored nothing
		c.m.Ingested(res)
	}
	return res, err
}

// pendingStore is the store with every Ingest that stored a file to
// download kicking the downloader: a text message costs it nothing.
type pendingStore struct {
	store.Store
	kick func()
}

func (p pendingStore) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	res, err := p.Store.Ingest(ctx, workspaceID, now, msgs)
	if err == nil && slices.ContainsFunc(msgs, func(in chathook.Incoming) bool { return tables.Pending(in.Attachments) }) {
		p.kick()
	}
	return res, err
}

// Tick makes the service look at its clock now: windows that ended are
// flushed and deliveries that became due are sent, as if their timers had
// fired. Tests call it after moving Config.Now.
func (s *Service) Tick() {
	s.bundler.Kick()
	s.dispatcher.Kick()
	s.downloads.Kick()
	select {
	case s.sweep <- struct{}{}:
	default:
	}
}

// Instance is the name this instance's delivery leases carry in the
// database, to tell instances apart in logs and in the deliveries table.
func (s *Service) Instance() string { return s.dispatcher.Owner() }

// Kill stops the service as a crash would, for tests of several instances:
// HTTP connections are closed at once, and the dispatcher stops without
// finishing or releasing its claims (deliver.Dispatcher.Kill), so another
// instance gets them only when their leases expire. Serve then returns.
func (s *Service) Kill() {
	s.killOnce.Do(func() {
		s.dispatcher.Kill()
		s.replies.Kill()
		s.whatsapp.Kill()
		close(s.kill)
	})
}

// Serve answers HTTP on ln and delivers until ctx is done. Then it stops
// taking requests, lets those under way finish, and shuts the dispatcher
// down (see deliver.Dispatcher.Run); it returns when both are done.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
		ConnState:         s.conns.connState,
	}
	// Live streams never end by themselves: shutdown ends them.
	srv.RegisterOnShutdown(s.hub.Close)
	if err := s.openSetup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting, as a stop while serving: not a failure
		}
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.dispatcher.Run(ctx) })
	wg.Go(func() { _ = s.bundler.Run(ctx) })
	wg.Go(func() { _ = s.notifier.Run(ctx) })
	wg.Go(func() { s.prune(ctx) })
	wg.Go(func() { s.announceUnreachable(ctx) })
	wg.Go(func() { _ = s.whatsapp.Run(ctx) })
	wg.Go(func() { _ = s.replies.Run(ctx) })
	wg.Go(func() { s.downloads.Run(ctx) })
	wg.Go(func() { s.sweepMedia(ctx) })
	if s.relay != nil {
		wg.Go(func() { s.relay.Run(ctx) })
	}
	httpErr := make(chan error, 1)
	// The metrics listener is not capped: a scrape still gets through when
	// the service is full.
	go func() { httpErr <- srv.Serve(s.conns.listener(ln)) }()
	s.cfg.Logger.Info("chathook serving", "addr", ln.Addr().String(), "base_url", s.cfg.BaseURL, "version", chathook.Version,
		"instance", s.Instance(), "max_connections", s.cfg.MaxConnections)
	if s.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metricsSet.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			ErrorLog: srv.ErrorLog}
		go func() {
			if err := msrv.Serve(s.metrics); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				s.cfg.Logger.Error("metrics listener", "err", err)
			}
		}()
		// Closed at once when Serve returns: a scrape has nothing to finish.
		defer msrv.Close()
		s.cfg.Logger.Info("metrics serving", "addr", s.metrics.Addr().String(), "path", "/metrics")
	}

	var err error
	select {
	case err = <-httpErr: // the listener failed
	case <-s.kill:
		s.cfg.Logger.Info("killed")
		cancel()
		err = srv.Close()
	case <-ctx.Done():
		s.cfg.Logger.Info("shutting down")
		shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = srv.Shutdown(shutCtx)
		cancel()
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.cfg.Logger.Info("stopped")
	return err
}

// every runs fn at once if now is set, then every d, and whenever kick
// fires (nil: never), until ctx ends.
func every(ctx context.Context, d time.Duration, now bool, kick <-chan struct{}, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if now {
			fn()
		}
		now = true
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
	}
}

// announceUnreachable tells endpoints, every half minute, of accounts
// that have been reconnecting for 5 minutes (store.AnnounceUnreachable):
// one instance's write finds them, the others' find none.
func (s *Service) announceUnreachable(ctx context.Context) {
	every(ctx, 30*time.Second, false, nil, func() {
		n, err := s.store.AnnounceUnreachable(ctx, s.cfg.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.Error("announce unreachable accounts", "err", err)
		case n > 0:
			s.cfg.Logger.Info("accounts unreachable for 5 minutes announced", "accounts", n)
			s.dispatcher.Kick()
		}
	})
}

// prune deletes attempts older than the retention, at start and hourly.
func (s *Service) prune(ctx context.Context) {
	every(ctx, time.Hour, true, nil, func() {
		n, err := s.store.PruneAttempts(ctx, s.cfg.Now().Add(-s.cfg.LogRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.Error("prune the detailed log", "err", err)
		case n > 0:
			s.cfg.Logger.Info("pruned the detailed log", "attempts", n, "older_than", s.cfg.LogRetention)
		}
	})
}

// sweepMedia deletes attachments past --media-retention, and blobs that
// a crash left unnamed, at start and every 10 minutes (or on Tick): a
// file's links answer 410 at most that long after its retention ends.
func (s *Service) sweepMedia(ctx context.Context) {
	every(ctx, 10*time.Minute, true, s.sweep, func() {
		expired, orphans, err := media.Sweep(ctx, s.store, nil, s.cfg.MediaRetention, s.cfg.Now(), s.observer)
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.Error("media sweep", "err", err)
		case expired > 0 || orphans > 0:
			s.cfg.Logger.Info("media sweep", "expired", expired, "orphan_blobs", orphans, "retention", s.cfg.MediaRetention)
		}
	})
}
