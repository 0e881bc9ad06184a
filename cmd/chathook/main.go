// Command chathook forwards WhatsApp conversations to a workspace's
// outbound webhook. See README.md and docs/configuration.md: the commands,
// their flags and their output are a contract that scripts depend on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// serveGCPercent is serve's GOGC unless the environment sets one: the
// heap may grow to three times what is live before a collection (Go's
// default: twice).
const serveGCPercent = 200

// run is main with its inputs made explicit, for tests. It returns the
// process exit code: 0 ok, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	switch {
	case len(args) >= 1 && args[0] == "serve":
		cfg, err := parseServe(args[1:], getenv, stdout, stderr)
		if err != nil {
			return usageError(err, stderr)
		}
		stopProfile, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return usageError(err, stderr)
		}
		if getenv("GOGC") == "" {
			// The service's heap is small (tens of MiB) and was 7% of its
			// CPU in GC on the single-message path; this halves that for
			// a few MiB more. GOGC, when set, wins.
			debug.SetGCPercent(serveGCPercent)
		}
		if getenv("GOMEMLIMIT") == "" {
			// The body budget bounds what bodies hold live; this bounds the
			// garbage they leave (see app.MemoryLimit). GOMEMLIMIT, when
			// set, wins.
			debug.SetMemoryLimit(app.MemoryLimit(cfg.BodyBudget))
		}
		cfg.Console = stderr
		code := 0
		if err := serve(ctx, cfg.Config); err != nil {
			// A person reads this, often the first time they run chathook:
			// one line, not a log record.
			fmt.Fprintln(stderr, "chathook:", oneLine(err))
			code = 1
		}
		if err := stopProfile(); err != nil {
			cfg.Logger.Error("cpu profile", "err", err)
			code = 1
		} else if cfg.CPUProfile != "" {
			cfg.Logger.Info("wrote the CPU profile", "file", cfg.CPUProfile)
		}
		return code
	case len(args) >= 2 && args[0] == "workspace" && args[1] == "create":
		return workspaceCreate(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "workspace" && args[1] == "list":
		return workspaceList(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "token" && args[1] == "create":
		return tokenCreate(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "token" && args[1] == "list":
		return tokenList(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "token" && args[1] == "revoke":
		return tokenRevoke(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "user" && args[1] == "add":
		return userAdd(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "user" && args[1] == "password":
		return userPassword(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "account" && args[1] == "connect":
		return accountConnect(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 2 && args[0] == "account" && args[1] == "list":
		return accountList(ctx, args[2:], getenv, stdout, stderr)
	case len(args) >= 1 && args[0] == "bench":
		return benchCommand(ctx, args[1:], getenv, stdout, stderr)
	case len(args) >= 1 && (args[0] == "version" || args[0] == "--version" || args[0] == "-version"):
		fmt.Fprintln(stdout, versionLine())
		return 0
	case len(args) >= 2 && args[0] == "help" && args[1] != "version":
		return run(ctx, append(args[1:], "-h"), getenv, stdout, stderr)
	case len(args) >= 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, topUsage())
		return 0
	}
	fmt.Fprint(stderr, topUsage())
	return 2
}

// usageError prints err as one line on stderr and returns exit code 2;
// flag.ErrHelp, whose help settings.parse has printed, returns 0.
func usageError(err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "chathook:", err)
	return 2
}

// settings are flags that default to their environment variable.
type settings struct {
	cmd     cmdHelp
	fs      *flag.FlagSet
	getenv  func(string) string
	stdout  io.Writer // where -h prints the command's help
	err     error
	secrets []func() // fill secret flags left empty from their env
}

// newSettings starts the flags of the command called name (one of
// commands). Its parse prints -h's help to stdout and nothing else:
// errors are returned, for the caller to print as one line.
func newSettings(name string, getenv func(string) string, stdout io.Writer) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &settings{cmd: commandNamed(name), fs: fs, getenv: getenv, stdout: stdout}
}

func (s *settings) string(p *string, flagName, env, def, help string) {
	if v := s.getenv(env); v != "" {
		def = v
	}
	s.fs.StringVar(p, flagName, def, help+" (env "+env+")")
}

// secret is a string flag whose environment value is read after parsing,
// not shown as the flag's default: -h must never print a password.
func (s *settings) secret(p *string, flagName, env, help string) {
	s.fs.StringVar(p, flagName, "", help+" (env "+env+", which keeps it out of the shell history)")
	s.secrets = append(s.secrets, func() {
		if *p == "" {
			*p = s.getenv(env)
		}
	})
}

// fromEnv returns env's value parsed, or def when env is unset; a value
// that does not parse is kept as the settings' error, naming env.
func fromEnv[T any](s *settings, env string, def T, parse func(string) (T, error), want string) T {
	v := s.getenv(env)
	if v == "" {
		return def
	}
	parsed, err := parse(v)
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("%s: %q is not %s", env, v, want)
	}
	return parsed
}

func (s *settings) bool(p *bool, flagName, env string, def bool, help string) {
	s.fs.BoolVar(p, flagName, fromEnv(s, env, def, strconv.ParseBool, "true or false"), help+" (env "+env+")")
}

func (s *settings) int(p *int, flagName, env string, def int, help string) {
	s.fs.IntVar(p, flagName, fromEnv(s, env, def, strconv.Atoi, "a whole number"), help+" (env "+env+")")
}

func (s *settings) duration(p *time.Duration, flagName, env string, def time.Duration, help string) {
	s.fs.DurationVar(p, flagName, fromEnv(s, env, def, time.ParseDuration, "a duration such as 720h"), help+" (env "+env+")")
}

// parse reads args. -h or --help prints the command's help to stdout and
// returns flag.ErrHelp; any other error names the command and says where
// its help is.
func (s *settings) parse(args []string) error {
	err := s.fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(s.stdout, s.cmd, s.fs)
		return err
	}
	if err == nil && s.err != nil {
		err = s.err
	}
	if err == nil && s.fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", s.fs.Arg(0))
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see chathook %s -h)", s.cmd.name, err, s.cmd.name)
	}
	for _, fill := range s.secrets {
		fill()
	}
	return nil
}

func dbFlag(s *settings, p *string) {
	s.string(p, "db", "CHATHOOK_DB", "sqlite:chathook.db", "database: a SQLite file path (./chathook.db or sqlite:<path>) or postgres://user:password@host:port/database")
}

// workspaceFlag is the --workspace of the commands that act on one. It has
// an environment variable because a shell scripting one workspace sets it
// once.
func workspaceFlag(s *settings, p *string) {
	s.string(p, "workspace", "CHATHOOK_WORKSPACE", "", "workspace id, as workspace create or workspace list prints it (required)")
}

// serveConfig is the service's configuration and what serve does around it.
type serveConfig struct {
	app.Config
	CPUProfile string // --cpu-profile: where the CPU profile of the whole run goes; "" makes none
}

func parseServe(args []string, getenv func(string) string, stdout, stderr io.Writer) (serveConfig, error) {
	var cfg serveConfig
	s := newSettings("serve", getenv, stdout)
	s.string(&cfg.Addr, "addr", "CHATHOOK_ADDR", "127.0.0.1:8080", "address to listen on")
	dbFlag(s, &cfg.DB)
	s.string(&cfg.BaseURL, "base-url", "CHATHOOK_BASE_URL", "", "public URL of chathook, for chat_url and permalinks (default http://<addr>)")
	s.string(&cfg.SMTPURL, "smtp-url", "CHATHOOK_SMTP_URL", "", "SMTP server for owner emails, smtp://user:pass@host:port (default: log them)")
	s.string(&cfg.MailFrom, "mail-from", "CHATHOOK_MAIL_FROM", app.DefaultMailFrom, "sender address of owner emails")
	s.bool(&cfg.AllowPrivateTargets, "allow-private-targets", "CHATHOOK_ALLOW_PRIVATE_TARGETS", false,
		"allow webhook URLs that resolve to loopback, private, link-local or metadata addresses")
	s.duration(&cfg.LogRetention, "log-retention", "CHATHOOK_LOG_RETENTION", app.DefaultLogRetention,
		"how long the detailed log keeps each delivery attempt")
	var proxies string
	s.string(&proxies, "trusted-proxies", "CHATHOOK_TRUSTED_PROXIES", "",
		"comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client, for sign-in limits (default: none, the peer is the client)")
	s.string(&cfg.MetricsAddr, "metrics-addr", "CHATHOOK_METRICS_ADDR", "",
		"address to serve Prometheus metrics on, at /metrics, e.g. 127.0.0.1:9090 (default: none)")
	var logFormat string
	s.string(&logFormat, "log-format", "CHATHOOK_LOG_FORMAT", "text", "how log lines are written: text (key=value) or json (one object a line)")
	var bodyMiB int
	s.int(&bodyMiB, "body-memory", "CHATHOOK_BODY_MEMORY", api.DefaultBodyBudget>>20,
		"MiB of memory that request bodies may take at once, counted at 4 bytes per body byte as they arrive; a workspace holds at most a quarter of it and never less than 144 (half at the default 256), Meta's webhook a quarter of it, 24 per client address; past it, 503 with Retry-After")
	s.duration(&cfg.BodyGrace, "body-grace", "CHATHOOK_BODY_GRACE", api.DefaultBodyGrace,
		"how long a request body may take to start arriving at --body-min-rate, and the most slack that bytes sent ahead of the rate buy, before it is cut with 408")
	var minRateKiB int
	s.int(&minRateKiB, "body-min-rate", "CHATHOOK_BODY_MIN_RATE", api.DefaultBodyMinRate>>10,
		"KiB/s a request body must arrive at after --body-grace, or it is cut with 408 (0: no minimum, only the read timeout)")
	s.int(&cfg.MaxConnections, "max-connections", "CHATHOOK_MAX_CONNECTIONS", app.DefaultMaxConnections(),
		"HTTP connections open at once, by default the open-file limit less 1024 (or half of it, if more) and at most 10000; at the cap the one idle the longest is closed, then one silent for 2 s, and with neither new ones wait to be accepted")
	s.string(&cfg.GraphAPIURL, "graph-api-url", "CHATHOOK_GRAPH_API_URL", cloudapi.DefaultGraphURL,
		"Meta's Graph API, through which Cloud API numbers send replies (a proxy or a test server may stand in)")
	s.int(&cfg.WhatsAppSendRate, "whatsapp-send-rate", "CHATHOOK_WHATSAPP_SEND_RATE", reply.DefaultSendRate,
		"replies a WhatsApp account sends a minute at most, evenly: one every 60/rate seconds, per instance; the others wait their turn (0: no limit). "+
			"A linked device that sends faster than a person types looks like the bulk sending WhatsApp bans numbers for")
	var maxBytes int
	s.int(&maxBytes, "media-max-bytes", "CHATHOOK_MEDIA_MAX_BYTES", media.DefaultMaxBytes,
		"largest attachment downloaded from WhatsApp, in bytes; a larger one is not downloaded, and its message says so")
	s.duration(&cfg.MediaRetention, "media-retention", "CHATHOOK_MEDIA_RETENTION", media.DefaultRetention,
		"how long downloaded attachments are kept; then they are deleted and their links answer 410")
	s.string(&cfg.WhatsAppProxy, "whatsapp-proxy", "CHATHOOK_WHATSAPP_PROXY", "",
		"proxy for the QR accounts' connections to WhatsApp: socks5://host:port or http://host:port, with user:password@ if it asks (default: none)")
	s.string(&cfg.CPUProfile, "cpu-profile", "CHATHOOK_CPU_PROFILE", "",
		"write a CPU profile (pprof) of the service to this file, from start to shutdown (default: none)")
	if err := s.parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.Logger, err = newLogger(logFormat, stderr); err != nil {
		return cfg, err
	}
	if cfg.TrustedProxies, err = parseProxies(proxies); err != nil {
		return cfg, err
	}
	if cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			return cfg, fmt.Errorf("--metrics-addr: %q is not host:port, e.g. 127.0.0.1:9090", cfg.MetricsAddr)
		}
	}
	if least := api.MinBodyBudget >> 20; bodyMiB < least {
		return cfg, fmt.Errorf("--body-memory: at least %d (MiB), what one batch of the largest size takes", least)
	}
	cfg.BodyBudget = int64(bodyMiB) << 20
	switch {
	case minRateKiB < 0:
		return cfg, fmt.Errorf("--body-min-rate: %d is negative; 0 turns the minimum off", minRateKiB)
	case minRateKiB == 0:
		cfg.BodyMinRate = -1 // off
	default:
		cfg.BodyMinRate = int64(minRateKiB) << 10
	}
	if cfg.BodyGrace <= 0 {
		return cfg, fmt.Errorf("--body-grace: must be positive, e.g. 10s")
	}
	if cfg.MaxConnections < 1 {
		return cfg, fmt.Errorf("--max-connections: at least 1, e.g. %d", app.DefaultMaxConnections())
	}
	if cfg.LogRetention <= 0 {
		return cfg, fmt.Errorf("--log-retention: must be positive, e.g. 720h")
	}
	if cfg.WhatsAppSendRate < 0 {
		return cfg, fmt.Errorf("--whatsapp-send-rate: %d is negative; 0 turns the limit off", cfg.WhatsAppSendRate)
	}
	if maxBytes < 1 {
		return cfg, fmt.Errorf("--media-max-bytes: at least 1, e.g. %d (100 MiB)", media.DefaultMaxBytes)
	}
	cfg.MediaMaxBytes = int64(maxBytes)
	if cfg.MediaRetention <= 0 {
		return cfg, fmt.Errorf("--media-retention: must be positive, e.g. 720h")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + cfg.Addr
	}
	// Every chat_url and permalink is built on it: a typo would reach every receiver.
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return cfg, fmt.Errorf("--base-url: %q is not an absolute http(s) URL without query or fragment", cfg.BaseURL)
	}
	// Every QR account would fail to connect, one retry at a time.
	if err := whatsweb.CheckProxy(cfg.WhatsAppProxy); err != nil {
		return cfg, fmt.Errorf("--whatsapp-proxy: %w", err)
	}
	// Replies would fail one by one, each telling the same typo.
	if u, err := url.Parse(cfg.GraphAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return cfg, fmt.Errorf("--graph-api-url: %q is not an absolute http(s) URL without query or fragment", cfg.GraphAPIURL)
	}
	return cfg, nil
}

// newLogger returns the logger of a --log-format: text or json, to w.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

// parseProxies reads --trusted-proxies: addresses (one host each) or
// CIDR ranges, separated by commas.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is neither an IP address nor a CIDR range such as 10.0.0.0/8", item)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// startCPUProfile starts profiling the process's CPU into the file path
// (created, or truncated) and returns what stops it and writes the file
// out. An empty path profiles nothing. A path that cannot be created is
// an error naming --cpu-profile, before the service starts.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpu-profile: writing %s: %w", path, err)
		}
		return nil
	}, nil
}

func serve(ctx context.Context, cfg app.Config) error {
	st, err := app.OpenStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--addr: %s is in use by another program (another chathook?); stop it or pass another --addr", cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("--addr: cannot listen on %s: %w", cfg.Addr, err)
	}
	svc, err := app.New(cfg, st)
	if err != nil {
		return err
	}
	return svc.Serve(ctx, ln)
}

// workspaceCreate prints exactly one JSON object on stdout (the CLI contract);
// everything else it has to say goes to stderr.
func workspaceCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, name, email, ownerName, password string
	s := newSettings("workspace create", getenv, stdout)
	dbFlag(s, &db)
	s.fs.StringVar(&name, "name", "", "workspace name (required)")
	s.fs.StringVar(&email, "owner-email", "", "owner's email, where notices go (required)")
	s.fs.StringVar(&ownerName, "owner-name", "", "owner's full name")
	s.secret(&password, "owner-password", "CHATHOOK_OWNER_PASSWORD", "the owner's password for the web UI, signing in with --owner-email")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if name == "" || email == "" {
		return usageError(errors.New("workspace create needs --name and --owner-email"), stderr)
	}
	return withStore(ctx, db, stderr, func(st store.Store) error {
		if password != "" {
			// Checked first, so that a refused password creates nothing.
			if err := app.CheckNewUser(ctx, st, email, password); err != nil {
				return fmt.Errorf("the owner's sign-in: %w", err)
			}
		}
		created, err := app.CreateWorkspace(ctx, st, name, email, ownerName)
		if err != nil {
			return err
		}
		if err := json.NewEncoder(stdout).Encode(created); err != nil {
			return err
		}
		if password == "" {
			fmt.Fprintf(stderr, "chathook: nobody can sign in to the web UI of this workspace yet; run\n"+
				"  chathook user add --workspace %s --email %s --password <password>\n", created.WorkspaceID, email)
			return nil
		}
		if _, err := app.AddUser(ctx, st, created.WorkspaceID, email, ownerName, password); err != nil {
			// The workspace exists and its token is printed; only the sign-in is missing.
			return fmt.Errorf("the workspace was created, but the owner's sign-in was not: %w", err)
		}
		return nil
	})
}

// oneLine is err's text on one line, whatever a driver put in it.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// withStore opens the --db store for a command and runs fn on it; an
// error is printed and exits 1.
func withStore(ctx context.Context, db string, stderr io.Writer, fn func(store.Store) error) int {
	return withStoreAt(ctx, db, false, stderr, fn)
}

// withExistingStore is withStore for commands that read, or act on a
// workspace or user that must exist: a SQLite file that does not exist is
// an error, and is not created. Only serve and workspace create make one.
func withExistingStore(ctx context.Context, db string, stderr io.Writer, fn func(store.Store) error) int {
	return withStoreAt(ctx, db, true, stderr, fn)
}

func withStoreAt(ctx context.Context, db string, mustExist bool, stderr io.Writer, fn func(store.Store) error) int {
	err := errIfMissing(db, mustExist)
	var st store.Store
	if err == nil {
		st, err = app.OpenStore(ctx, db)
	}
	if err == nil {
		err = fn(st)
		st.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "chathook:", oneLine(err))
		return 1
	}
	return 0
}

// errIfMissing says, when mustExist, that db's SQLite file does not
// exist: a command that only reads must not leave an empty database
// behind, where a mistyped --db would then look like one without data.
func errIfMissing(db string, mustExist bool) error {
	path, err := app.SQLitePath(db)
	if err != nil || path == "" || !mustExist {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		shown := path
		if !filepath.IsAbs(shown) && !strings.HasPrefix(shown, "."+string(filepath.Separator)) && !strings.HasPrefix(shown, "..") {
			shown = "." + string(filepath.Separator) + shown
		}
		return fmt.Errorf("no database at %s (run chathook serve or chathook workspace create first, or pass --db)", shown)
	}
	return nil
}

// userAdd lets a teammate (or the owner) sign in to a workspace's web UI.
func userAdd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, workspace, email, name, password string
	s := newSettings("user add", getenv, stdout)
	dbFlag(s, &db)
	workspaceFlag(s, &workspace)
	s.fs.StringVar(&email, "email", "", "the email to sign in with (required)")
	s.fs.StringVar(&name, "name", "", "full name")
	s.secret(&password, "password", "CHATHOOK_PASSWORD", "password, at least 8 characters (required)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if workspace == "" || email == "" || password == "" {
		return usageError(errors.New("user add needs --workspace, --email and --password (or CHATHOOK_PASSWORD)"), stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		u, err := app.AddUser(ctx, st, workspace, email, name, password)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]string{
			"user_id": strconv.FormatInt(u.ID, 10), "workspace_id": u.WorkspaceID, "email": u.Email,
		})
	})
}

// userPassword sets a new password and ends the user's sessions.
func userPassword(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, email, password string
	s := newSettings("user password", getenv, stdout)
	dbFlag(s, &db)
	s.fs.StringVar(&email, "email", "", "the user's email (required)")
	s.secret(&password, "password", "CHATHOOK_PASSWORD", "the new password, at least 8 characters (required)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if email == "" || password == "" {
		return usageError(errors.New("user password needs --email and --password (or CHATHOOK_PASSWORD)"), stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		if err := app.SetPassword(ctx, st, email, password); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "chathook: password changed; every session of", email, "was signed out")
		return nil
	})
}
