package whatsweb

import (
	"context"
	"database/sql"
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
	// Sent returns the text of a message chathook sent from device as
	// id (a reply), "" if it sent none: a phone that could not decrypt
	// it asks for it again with a retry receipt, and whatsmeow, which
	// keeps only its last 256 sends in memory, sends it once more. nil:
	// such asks are answered only from memory. New sets it to read the
	// replies in chathook's database.
	Sent func(ctx context.Context, device types.JID, id types.MessageID) (string, error)
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
//
// A message it cannot decrypt is asked again from the phone as well as
// from the sender (AutomaticMessageRerequestFromPhone), as mautrix's
// bridge does; a phone asking for one of chathook's replies again gets it
// from Sent.
func (w Whatsmeow) Client(dev *wastore.Device) Client {
	osInfo.Do(func() { wastore.SetOSInfo("chathook", [3]uint32{0, 1, 0}) })
	log := waLogger(w.Logger, "whatsmeow")
	cli := whatsmeow.NewClient(dev, log)
	cli.EnableAutoReconnect = true
	cli.InitialAutoReconnect = false
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.AutomaticMessageRerequestFromPhone = true
	if w.Sent != nil {
		cli.GetMessageForRetry = func(requester, to types.JID, id types.MessageID) *waE2E.Message {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			text, err := w.Sent(ctx, dev.GetJID(), id)
			if err != nil {
				log.Warnf("sent message %s not read for a retry receipt: %v", safeID(id), err)
				return nil
			}
			if text == "" {
				return nil
			}
			return &waE2E.Message{Conversation: proto.String(text)}
		}
	}
	if w.Proxy != "" {
		// Checked at start (CheckProxy); were it refused now, the
		// connection fails rather than go around the proxy.
		if err := cli.SetProxyAddress(w.Proxy); err != nil {
			return wmClient{cli: cli, err: fmt.Errorf("--whatsapp-proxy: %w", err)}
		}
	}
	return wmClient{cli: cli}
}

// sentReplies reads the text of a reply chathook sent from a device, for
// Whatsmeow.Sent: the message of the account of that device whose
// message_id is id, if it is one of chathook's replies. (The store has
// no reply lookup by WhatsApp id; the tables are the same in both
// dialects, and whatsmeow's $N placeholders work in both.)
func sentReplies(db *sql.DB) func(ctx context.Context, device types.JID, id types.MessageID) (string, error) {
	return func(ctx context.Context, device types.JID, id types.MessageID) (string, error) {
		var text string
		err := db.QueryRowContext(ctx, `SELECT r.text FROM accounts a
			JOIN messages m ON m.account_id = a.id AND m.message_id = $2
			JOIN replies r ON r.id = m.uuid
			WHERE a.jid = $1`, device.String(), id).Scan(&text)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return text, err
	}
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
