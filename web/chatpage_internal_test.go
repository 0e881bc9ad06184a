package web

import (
	"github.com/chathook/chathook"
	"github.com/chathook/chathook/reply"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// Web addresses in a message become safe links; everything else stays
// escaped text, whatever a sender tries.
func TestLinkify(t *testing.T) {
	const a = `" target="_blank" rel="noopener noreferrer nofollow">`
	for _, c := range []struct{ in, want string }{
		{"no link here", "no link here"},
		{"see https://example.com/a?b=1&c=2.", `see <a href="https://example.com/a?b=1&amp;c=2` + a + `https://example.com/a?b=1&amp;c=2</a>.`},
		{"HTTP://EXAMPLE.COM/X", `<a href="http://EXAMPLE.COM/X` + a + `HTTP://EXAMPLE.COM/X</a>`},
		{"www.example.com, then", `<a href="http://www.example.com` + a + `www.example.com</a>, then`},
		{"(https://example.com/a)", `(<a href="https://example.com/a` + a + `https://example.com/a</a>)`},
		{"https://en.wikipedia.org/wiki/Go_(game)!", `<a href="https://en.wikipedia.org/wiki/Go_(game)` + a + `https://en.wikipedia.org/wiki/Go_(game)</a>!`},
		{"two: http://a.example and https://b.example/?", `two: <a href="http://a.example` + a + `http://a.example</a> and <a href="https://b.example/` + a + `https://b.example/</a>?`},
		{"שלום https://example.co.il/דף, תודה", `שלום <a href="https://example.co.il/%D7%93%D7%A3` + a + `https://example.co.il/דף</a>, תודה`},
		// Never anything but http(s), never markup of the sender's.
		{"javascript:alert(1)", "javascript:alert(1)"},
		// The scheme is never linked; an http address inside it is only that.
		{"JaVaScRiPt:alert('http://x')", "JaVaScRiPt:alert(&#39;<a href=\"http://x" + a + "http://x</a>&#39;)"},
		{"data:text/html,<script>alert(1)</script>", "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{`https://example.com/"onmouseover="alert(1)`, `<a href="https://example.com/` + a + `https://example.com/</a>&#34;onmouseover=&#34;alert(1)`},
		{"https://example.com/<img src=x onerror=alert(1)>", `<a href="https://example.com/` + a + `https://example.com/</a>&lt;img src=x onerror=alert(1)&gt;`},
		{"https://example.com/'onclick='x", `<a href="https://example.com/&#39;onclick=&#39;x` + a + `https://example.com/&#39;onclick=&#39;x</a>`},
		{"xhttps://example.com", "xhttps://example.com"},
		{"mail me@www.example.com", "mail me@www.example.com"},
		{"http:// nothing", "http:// nothing"},
		{"https://", "https://"},
		{"www.", "www."},
		{"https://exa mple.com", `<a href="https://exa` + a + `https://exa</a> mple.com`},
	} {
		if got := string(linkify(c.in)); got != c.want {
			t.Errorf("linkify(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// Every <time> of every template says its time in a datetime attribute,
// for the script to show in the reader's zone.
func TestTemplatesTimesHaveDatetime(t *testing.T) {
	tag := regexp.MustCompile(`<time\b[^>]*>`)
	n := 0
	err := fs.WalkDir(templateFS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		for _, m := range tag.FindAllString(string(b), -1) {
			n++
			if !strings.Contains(m, ` datetime="{{`) {
				t.Errorf("%s: %s has no datetime", path, m)
			}
		}
		return err
	})
	if err != nil || n == 0 {
		t.Fatalf("read the templates: %v (%d times)", err, n)
	}
}

// The chat page says why a chat cannot be written to, in words for a
// person, exactly where reply.Queue would refuse; and notes, above the
// box, an account whose replies will wait.
func TestReplyAdvice(t *testing.T) {
	web := chathook.Account{Kind: chathook.KindWeb, Phone: "+15550000000", State: chathook.AccountConnected}
	cloud := chathook.Account{Kind: chathook.KindCloudAPI, Phone: "+15550000001", State: chathook.AccountConnected}
	api := chathook.Account{Kind: chathook.KindAPI, Phone: "+15550000002"}
	person := chathook.Chat{ExternalID: "+15551000001"}
	group := chathook.Chat{ExternalID: "120363000000000000@g.us", IsGroup: true}
	status := chathook.Chat{ExternalID: "status@broadcast"}
	with := func(a chathook.Account, s chathook.AccountState) chathook.Account { a.State = s; return a }
	for _, c := range []struct {
		name         string
		acc          chathook.Account
		chat         chathook.Chat
		cannot, note string
	}{
		{"QR account, person", web, person, "", ""},
		{"QR account, group", web, group, "", ""},
		{"QR account connecting", with(web, chathook.AccountConnecting), person, "", ""},
		{"Cloud API, person", cloud, person, "", ""},
		{"API only", api, person, "This chat came in through the API: chathook has no WhatsApp account to answer from.", ""},
		{"Cloud API, group", cloud, group, "Meta's Cloud API cannot write to groups", ""},
		{"QR account, a status", web, status, "Replies cannot be sent to this chat: chathook sends only to a person or a group", ""},
		{"disconnected", with(web, chathook.AccountDisconnected), person, "", "+15550000000 is not connected (disconnected): replies wait"},
		{"logged out", with(web, chathook.AccountLoggedOut), person, "", "not connected (logged out)"},
		{"banned", with(web, chathook.AccountBanned), person, "", "WhatsApp has banned +15550000000 for a while"},
	} {
		cannot, note := replyAdvice(c.acc, c.chat)
		if (c.cannot == "") != (cannot == "") || !strings.Contains(cannot, c.cannot) || (c.note == "") != (note == "") || !strings.Contains(note, c.note) {
			t.Errorf("%s: %q, %q; want %q, %q", c.name, cannot, note, c.cannot, c.note)
		}
		if (cannot == "") != (reply.Refusal(c.acc, c.chat) == "") {
			t.Errorf("%s: the page and reply.Refusal disagree", c.name)
		}
	}
}
