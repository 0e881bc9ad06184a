package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/web"
	"go.mau.fi/whatsmeow/types/events"
)

// A banned account reads banned with when the ban ends and that there is
// nothing to do but wait, and offers Disconnect but no Reconnect (one
// posted anyway is refused) until the ban has ended; an outdated one says to update
// chathook and offers Reconnect, which connects it again.
func TestBannedAndOutdatedAccounts(t *testing.T) {
	t.Parallel()
	h, wa, _ := withWhatsApp(t)
	v := h.signedIn("acme")
	banned := pairAccount(t, h, wa, v, "972500000001:12@s.whatsapp.net", "Amnon Haha")
	outdated := pairAccount(t, h, wa, v, "972500000002:3@s.whatsapp.net", "Bella")
	until := h.clock().Add(2 * time.Hour)
	wa.Online(t, banned.JID).Emit(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: 2 * time.Hour})
	wa.Online(t, outdated.JID).Emit(&events.ClientOutdated{})
	chathooktest.Eventually(t, "banned and outdated", func() bool {
		return h.accountState(banned.ID) == chathook.AccountBanned && h.accountState(outdated.ID) == chathook.AccountOutdated
	})

	list := v.get("/accounts/")
	r := row(t, list.body, banned.ID)
	want := "banned by WhatsApp until " + until.UTC().Format("2006-01-02 15:04:05 UTC") + " Nothing to do but wait"
	if got := words(r); !strings.Contains(got, want) || strings.Contains(got, "Reconnect") || !strings.Contains(got, "Disconnect") {
		t.Errorf("the banned account reads %q, want %q, Disconnect and no Reconnect", got, want)
	}
	if !strings.Contains(r, `<time datetime="`+until.UTC().Format(time.RFC3339)+`">`) {
		t.Errorf("the ban's end is not a <time>: %s", r)
	}
	r = row(t, list.body, outdated.ID)
	if got := words(r); !strings.Contains(got, "refused as outdated WhatsApp refuses this chathook's version: update chathook, then press Reconnect. never Reconnect") {
		t.Errorf("the outdated account reads %q", got)
	}
	if !strings.Contains(r, `action="/accounts/`+strconv.FormatInt(outdated.ID, 10)+`/reconnect"`) {
		t.Errorf("no Reconnect for the outdated account: %s", r)
	}

	a := v.post("/accounts/"+strconv.FormatInt(banned.ID, 10)+"/reconnect", url.Values{})
	if a.status != http.StatusConflict || !strings.Contains(a.body, "banned this number until "+until.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("reconnect during the ban: %d %s", a.status, a.body)
	}
	if h.accountState(banned.ID) != chathook.AccountBanned {
		t.Fatalf("a refused reconnect moved the banned account to %s", h.accountState(banned.ID))
	}

	v.get("/accounts/")
	a = v.post("/accounts/"+strconv.FormatInt(outdated.ID, 10)+"/reconnect", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/accounts/?done=reconnect" {
		t.Fatalf("reconnect of the outdated account: %d %q", a.status, a.header.Get("Location"))
	}
	chathooktest.Eventually(t, "the outdated account connected again", func() bool {
		return h.accountState(outdated.ID) == chathook.AccountConnected
	})

	// The ban ends: the page says so and offers Reconnect, which
	// connects it at once.
	h.advance(2 * time.Hour)
	ended := web.AccountRowWords(chathook.Account{Kind: chathook.KindWeb, State: chathook.AccountBanned, StateUntil: until}, h.clock())
	if !strings.Contains(ended, "The ban has ended") || !strings.Contains(ended, "Reconnect") {
		t.Errorf("after the ban, the account reads %q", ended)
	}
	a = v.post("/accounts/"+strconv.FormatInt(banned.ID, 10)+"/reconnect", url.Values{})
	if a.status != http.StatusSeeOther {
		t.Fatalf("reconnect after the ban: %d %s", a.status, a.body)
	}
	chathooktest.Eventually(t, "the banned account connected again", func() bool {
		return h.accountState(banned.ID) == chathook.AccountConnected
	})
}
