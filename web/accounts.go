package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/whatsweb"
)

// WhatsApp links WhatsApp accounts to a workspace as linked devices and
// unlinks them; *whatsweb.Manager is one.
type WhatsApp interface {
	Pair(ctx context.Context, req whatsweb.PairRequest) (chathook.Pairing, error)
	Disconnect(ctx context.Context, workspaceID string, accountID int64) error
	Reconnect(ctx context.Context, workspaceID string, accountID int64) error
}

// pairingRefresh is how often the pairing page asks for its state: often
// enough that a rotated QR code (every 20 s) or the phone's answer shows
// at once.
const pairingRefresh = 2 * time.Second

// pairingLost is how long a waiting pairing may go unsaved before its
// page calls it failed: longer than WhatsApp's codes last in all (a
// minute, then five of 20 seconds), after which the instance holding it
// saves it failed, unless it stopped.
const pairingLost = 5 * time.Minute

// pairingRefreshNoScript is the whole-page reload of the pairing page in
// a browser without script.
const pairingRefreshNoScript = 5

// qrPixels is the side of the QR code image: at least 4 pixels a module
// for the codes WhatsApp hands out, and narrower than a phone's screen.
const qrPixels = 320

type accountsView struct {
	layout
	Accounts []accountRow
	Phone    string            // as typed in the pairing-code form
	Errors   map[string]string // "phone", or "connect" for what is not a field's fault
	// PhoneSummary lists Errors atop the pairing-code form.
	PhoneSummary formErrors
	// ConnectDetail is the error behind Errors["connect"], shown folded
	// away; ByCode: the linking that failed was by pairing code, with
	// Phone, and its Retry is too.
	ConnectDetail string
	ByCode        bool
	Done          string // what the last button did, for a person
	CanPair       bool

	Cloud        cloudAPIForm      // the "Add a Cloud API number" form
	CloudErrors  map[string]string // by the registration's field names
	CloudSummary formErrors        // all of CloudErrors, atop the form
	CloudOpen    bool              // the form is shown unfolded
}

type accountRow struct {
	chathook.Account
	Kind       string // how it is connected, in words
	State      string // in words
	StateHelp  string // what to do about the state, for a person; "" if nothing
	Disconnect bool   // offered for an account chathook keeps connected
	Reconnect  bool   // offered for one another client took over, an outdated one, and a ban that ended
	// Until is when a banned account's ban ends, shown with StateHelp.
	Until  time.Time
	Setup  bool // a Cloud API number's setup page is offered
	Remove bool // offered for a Cloud API number not removed
}

var stateWords = map[chathook.AccountState]string{
	chathook.AccountConnecting:    "connecting",
	chathook.AccountConnected:     "connected",
	chathook.AccountDisconnecting: "disconnecting",
	chathook.AccountDisconnected:  "disconnected",
	chathook.AccountLoggedOut:     "logged out by the phone",
	chathook.AccountReplaced:      "replaced by another client",
	chathook.AccountBanned:        "banned by WhatsApp",
	chathook.AccountOutdated:      "refused as outdated",
}

// cloudAPIStateWords are a Cloud API number's states: chathook holds no
// connection to it, Meta calls chathook.
var cloudAPIStateWords = map[chathook.AccountState]string{
	chathook.AccountConnecting:   "waiting for Meta",
	chathook.AccountConnected:    "connected",
	chathook.AccountDisconnected: "removed",
}

var kindWords = map[chathook.AccountKind]string{
	chathook.KindWeb:      "QR code",
	chathook.KindCloudAPI: "Cloud API",
	chathook.KindAPI:      "ingest API",
}

// rowOf is an account as the list shows it at now.
func rowOf(a chathook.Account, now time.Time) accountRow {
	row := accountRow{Account: a, Kind: kindWords[a.Kind], State: stateWords[a.State]}
	if row.Kind == "" {
		row.Kind = string(a.Kind)
	}
	if a.Kind == chathook.KindCloudAPI {
		row.State = cloudAPIStateWords[a.State]
		if a.State == chathook.AccountConnecting {
			row.StateHelp = "Paste the callback URL and verify token into your Meta app."
		}
		row.Setup = a.State != chathook.AccountDisconnected
		row.Remove = row.Setup
	}
	if row.State == "" {
		row.State = string(a.State)
	}
	if a.Kind == chathook.KindWeb {
		switch a.State {
		case chathook.AccountConnected, chathook.AccountConnecting:
			row.Disconnect = true
		case chathook.AccountReplaced:
			row.Reconnect = true
		case chathook.AccountBanned:
			// Disconnected without connecting it (see
			// whatsweb.Manager.Disconnect), like an outdated one.
			row.Disconnect, row.Until = true, a.StateUntil
			if now.Before(a.StateUntil) {
				row.StateHelp = "Nothing to do but wait, and send no bulk messages from this number: chathook connects it again by itself when the ban ends, not before (connecting during a ban can get a number banned for good)."
			} else {
				row.StateHelp = "The ban has ended: chathook connects it again shortly, or now with Reconnect."
				row.Reconnect = true
			}
		case chathook.AccountOutdated:
			row.StateHelp = "WhatsApp refuses this chathook's version: update chathook, then press Reconnect."
			row.Disconnect, row.Reconnect = true, true
		}
	}
	return row
}

// accountsDone are the notices of ?done= after a button's redirect.
var accountsDone = map[string]string{
	"disconnect": "The account is being disconnected: chathook logs its linked device out, and its messages stop.",
	"reconnect":  "The account is being connected again.",
	"remove":     "The Cloud API number was removed: chathook refuses Meta's calls for it from now on. Its chats stay.",
}

func (s *Server) accountsData(r *http.Request, v visit) (accountsView, error) {
	list, err := s.cfg.Store.Accounts(r.Context(), v.workspaceID())
	if err != nil {
		return accountsView{}, err
	}
	data := accountsView{layout: v.layout(s, "WhatsApp accounts", "accounts"), CanPair: s.cfg.WhatsApp != nil, Cloud: newCloudAPIForm(v)}
	for _, a := range list {
		data.Accounts = append(data.Accounts, rowOf(a, s.cfg.Now()))
	}
	return data, nil
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.accountsData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data.Done = accountsDone[r.URL.Query().Get("done")]
	s.render(w, r, http.StatusOK, "accounts.html", data)
}

// connect starts linking a new device for the signed-in teammate, by QR
// code or, when the form sent a phone, by pairing code, and sends the
// browser to the page that follows it. A phone is read as people type it
// (ingest.ParsePhone). WhatsApp out of reach is said in a sentence for a
// person, the error itself folded away, with a Retry that starts anew.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, v visit) {
	withPhone := r.PostForm.Has("phone")
	phone := strings.TrimSpace(r.PostFormValue("phone"))
	fail := func(status int, name, message, detail string) {
		data, err := s.accountsData(r, v)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		data.Phone, data.Errors, data.ConnectDetail, data.ByCode = phone, map[string]string{name: message}, detail, withPhone
		data.PhoneSummary = summarize("phone-summary", data.Errors, []field{{"phone", "Phone number"}})
		data.PhoneSummary.Lead = "Linking did not start: correct the number below."
		s.render(w, r, status, "accounts.html", data)
	}
	if s.cfg.WhatsApp == nil {
		fail(http.StatusServiceUnavailable, "connect", "This chathook cannot link WhatsApp accounts: it runs without its WhatsApp connector.", "")
		return
	}
	if withPhone && phone == "" {
		fail(http.StatusUnprocessableEntity, "phone", "Enter the number of the phone to link, with + and its country code.", "")
		return
	}
	p, err := s.cfg.WhatsApp.Pair(r.Context(), whatsweb.PairRequest{WorkspaceID: v.workspaceID(), Email: v.User.Email, Phone: phone})
	var fe *ingest.FieldError
	switch {
	case errors.As(err, &fe) && fe.Field == "phone":
		fail(http.StatusUnprocessableEntity, "phone", sentence(fe.Problem), "")
		return
	case errors.As(err, &fe):
		fail(http.StatusUnprocessableEntity, "connect", "Linking could not start: "+sentence(fe.Error()), "")
		return
	case errors.Is(err, context.Canceled):
		return
	case err != nil:
		// Nothing the teammate typed is wrong, and trying again may work.
		s.cfg.Logger.Warn("pairing could not start", "workspace", v.workspaceID(), "user", v.User.ID, "err", err)
		fail(http.StatusBadGateway, "connect", reachProblem(err), err.Error())
		return
	}
	s.cfg.Logger.Info("pairing started", "workspace", v.workspaceID(), "user", v.User.ID, "pairing", p.ID, "by_code", phone != "")
	http.Redirect(w, r, "/accounts/connect/"+p.ID, http.StatusSeeOther)
}

// accountAction runs Disconnect or Reconnect on the account of the path.
func (s *Server) accountAction(action string) func(http.ResponseWriter, *http.Request, visit) {
	return func(w http.ResponseWriter, r *http.Request, v visit) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			s.errorPage(w, r, http.StatusNotFound, "There is no such account.")
			return
		}
		if s.cfg.WhatsApp == nil {
			s.errorPage(w, r, http.StatusServiceUnavailable, "This chathook runs without its WhatsApp connector.")
			return
		}
		do := s.cfg.WhatsApp.Disconnect
		if action == "reconnect" {
			do = s.cfg.WhatsApp.Reconnect
		}
		err = do(r.Context(), v.workspaceID(), id)
		if errors.Is(err, chathook.ErrNotFound) {
			s.errorPage(w, r, http.StatusNotFound, "There is no such account in this workspace.")
			return
		}
		var banned *whatsweb.BannedError
		if errors.As(err, &banned) {
			s.errorPage(w, r, http.StatusConflict, "WhatsApp banned this number until "+banned.Until.UTC().Format("2006-01-02 15:04:05 UTC")+
				": chathook connects it again by itself then. Connecting before can get the number banned for good.")
			return
		}
		if errors.Is(err, whatsweb.ErrNeedsPairing) {
			s.errorPage(w, r, http.StatusConflict, "This account's linked device is gone, so it cannot be reconnected: connect it again with a new QR code.")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		s.cfg.Logger.Info("account "+action, "workspace", v.workspaceID(), "user", v.User.ID, "account", id)
		http.Redirect(w, r, "/accounts/?done="+action, http.StatusSeeOther)
	}
}

// pairingView is a pairing as its page shows it, and as the page's
// script fetches it again every pairingRefresh.
type pairingView struct {
	chathook.Pairing
	Account chathook.Account // once paired
	QRSrc   string           // the QR code image, with a version that changes with the code
	Src     string           // where the script fetches the state
	Every   int64            // milliseconds
	CSRF    string           // for "Start again"
}

type pairingPage struct {
	layout
	View pairingView
}

// pairingFor reads the pairing of the path, answering 404 (as a page or,
// for a fragment, bare) for one that is not the workspace's.
func (s *Server) pairingFor(w http.ResponseWriter, r *http.Request, v visit, page bool) (pairingView, bool) {
	id := r.PathValue("id")
	p, err := s.cfg.Store.Pairing(r.Context(), v.workspaceID(), id)
	if errors.Is(err, chathook.ErrNotFound) {
		if page {
			s.errorPage(w, r, http.StatusNotFound, "There is no such linking in this workspace. Start again from the accounts page.")
		} else {
			http.NotFound(w, r)
		}
		return pairingView{}, false
	}
	if err != nil {
		s.internal(w, r, err)
		return pairingView{}, false
	}
	if p.State == chathook.PairingWaiting && !p.UpdatedAt.IsZero() && s.cfg.Now().Sub(p.UpdatedAt) > pairingLost {
		// The instance that held it stopped (a restart, a crash) before
		// saving an end: shown as failed, so that the page offers Retry
		// rather than wait forever.
		p.State, p.QR, p.Code = chathook.PairingFailed, "", ""
		p.Err = "chathook stopped following this linking (it may have restarted): retry"
	}
	pv := pairingView{Pairing: p, CSRF: csrfToken(v.token),
		Src: "/accounts/connect/" + p.ID + "/state", Every: pairingRefresh.Milliseconds()}
	if p.QR != "" {
		sum := sha256.Sum256([]byte(p.QR))
		pv.QRSrc = "/accounts/connect/" + p.ID + "/qr.png?v=" + hex.EncodeToString(sum[:6])
	}
	if p.State == chathook.PairingPaired && p.AccountID != 0 {
		if pv.Account, err = s.cfg.Store.Account(r.Context(), v.workspaceID(), p.AccountID); err != nil {
			s.internal(w, r, err)
			return pairingView{}, false
		}
	}
	return pv, true
}

func (s *Server) pairing(w http.ResponseWriter, r *http.Request, v visit) {
	pv, ok := s.pairingFor(w, r, v, true)
	if !ok {
		return
	}
	data := pairingPage{layout: v.layout(s, "Connect a WhatsApp account", "accounts"), View: pv}
	if pv.State == chathook.PairingWaiting {
		data.Refresh = pairingRefreshNoScript
	}
	s.render(w, r, http.StatusOK, "pairing.html", data)
}

// pairingState is the pairing page's changing part alone.
func (s *Server) pairingState(w http.ResponseWriter, r *http.Request, v visit) {
	if pv, ok := s.pairingFor(w, r, v, false); ok {
		s.renderFragment(w, r, "pairing", pv)
	}
}

// pairingQR is the pairing's current QR code as a PNG. The code rotates,
// so it is never cached; the page's ?v= changes with it.
func (s *Server) pairingQR(w http.ResponseWriter, r *http.Request, v visit) {
	pv, ok := s.pairingFor(w, r, v, false)
	if !ok {
		return
	}
	if pv.QR == "" || pv.State != chathook.PairingWaiting {
		http.Error(w, "no QR code to show", http.StatusNotFound)
		return
	}
	img, err := whatsweb.QRPNG(pv.QR, qrPixels)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	_, _ = w.Write(img)
}
