package whatsweb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"
)

// Whatsmeow is WhatsApp itself, through whatsmeow's client: the
// production Network.
type Whatsmeow struct {
	Logger *slog.Logger // nil: slog.Default()
	// Proxy, when set, is the proxy every connection goes through (the
	// websocket and media downloads): socks5://[user:pass@]host:port or
	// http(s)://[user:pass@]host:port, as CheckProxy accepts.
	Proxy string
}

// CheckProxy reports whether addr is a proxy Whatsmeow can use: "" (none),
// socks5://host:port or http(s)://host:port, with an optional user and
// password. The error never repeats the password.
func CheckProxy(addr string) error {
	if addr == "" {
		return nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return errors.New("not a URL: use socks5://host:port or http://host:port")
	}
	switch u.Scheme {
	case "socks5", "http", "https":
	default:
		return fmt.Errorf("%q: use socks5://host:port or http://host:port", u.Redacted())
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("%q has no host:port", u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: only scheme, host and port (and user:password) make a proxy", u.Redacted())
	}
	return nil
}

// osInfo names chathook on the phone's list of linked devices.
var osInfo sync.Once

// Client returns a whatsmeow client of dev that reconnects by itself
// after a network drop (EnableAutoReconnect), but whose first Connect
// fails when WhatsApp cannot be reached, so that a caller can say so.
//
// It acknowledges a message to WhatsApp only once the handler has
// returned true, that is once chathook has committed it
// (SynchronousAck): a message the database could not take is sent again
// by WhatsApp after the next reconnect, not lost. The decrypted event
// buffer keeps its plaintext meanwhile, since the Signal session has
// moved on and could not decrypt it a second time.
func (w Whatsmeow) Client(dev *wastore.Device) Client {
	osInfo.Do(func() { wastore.SetOSInfo("chathook", [3]uint32{0, 1, 0}) })
	cli := whatsmeow.NewClient(dev, waLogger(w.Logger, "whatsmeow"))
	cli.EnableAutoReconnect = true
	cli.InitialAutoReconnect = false
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	if w.Proxy != "" {
		// Checked at start (CheckProxy); were it refused now, the
		// connection fails rather than go around the proxy.
		if err := cli.SetProxyAddress(w.Proxy); err != nil {
			return wmClient{cli: cli, err: fmt.Errorf("--whatsapp-proxy: %w", err)}
		}
	}
	return wmClient{cli: cli}
}

type wmClient struct {
	cli *whatsmeow.Client
	err error // why it cannot connect: its proxy was refused
}

func (c wmClient) Connect(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	return c.cli.ConnectContext(ctx)
}
func (c wmClient) Disconnect()                      { c.cli.Disconnect() }
func (c wmClient) Logout(ctx context.Context) error { return c.cli.Logout(ctx) }
func (c wmClient) AddEventHandler(fn func(evt any) bool) {
	c.cli.AddEventHandlerWithSuccessStatus(fn)
}
func (c wmClient) PairPhone(ctx context.Context, phone string) (string, error) {
	// WhatsApp checks the display name: "Browser (OS)", common ones only.
	return c.cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
}

func (c wmClient) SendText(ctx context.Context, to types.JID, id types.MessageID, text string) (time.Time, error) {
	resp, err := c.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String(text)},
		whatsmeow.SendRequestExtra{ID: id, Timeout: sendTimeout})
	return resp.Timestamp, err
}

func (c wmClient) Download(ctx context.Context, f MediaFile, dst whatsmeow.File) error {
	length := int(f.FileLength)
	if length <= 0 {
		length = -1 // unknown: whatsmeow then checks the hashes only
	}
	return c.cli.DownloadMediaWithPathToFile(ctx, f.DirectPath, f.FileEncSHA256, f.FileSHA256, f.MediaKey, length, f.MediaType, "", dst)
}

func (c wmClient) SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, mediaKey []byte) error {
	return c.cli.SendMediaRetryReceipt(ctx, info, mediaKey)
}

func (c wmClient) GroupName(ctx context.Context, group types.JID) (string, error) {
	info, err := c.cli.GetGroupInfo(ctx, group)
	if err != nil {
		return "", err
	}
	return info.Name, nil
}

// waLogger passes whatsmeow's warnings and errors to log. Its info and
// debug lines are dropped: at debug it writes protocol nodes, and nothing
// of a session may reach a log.
func waLogger(log *slog.Logger, module string) waLog.Logger {
	if log == nil {
		log = slog.Default()
	}
	return slogWA{log.With("module", module)}
}

type slogWA struct{ log *slog.Logger }

func (l slogWA) Warnf(msg string, args ...any)  { l.log.Warn(fmt.Sprintf(msg, args...)) }
func (l slogWA) Errorf(msg string, args ...any) { l.log.Error(fmt.Sprintf(msg, args...)) }
func (l slogWA) Infof(string, ...any)           {}
func (l slogWA) Debugf(string, ...any)          {}
func (l slogWA) Sub(module string) waLog.Logger { return slogWA{l.log.With("sub", module)} }
