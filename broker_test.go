package chathook_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chathook/chathook"
)

func TestParseBrokerURL(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want chathook.BrokerURL
	}{
		{"nats://nats.example.com/whatsapp", chathook.BrokerURL{Kind: chathook.TargetNATS, Host: "nats.example.com",
			Addr: "nats.example.com:4222", Prefix: "whatsapp"}},
		{"NATS://tok3n@nats.example.com:4333/acme.whatsapp", chathook.BrokerURL{Kind: chathook.TargetNATS,
			Host: "nats.example.com", Addr: "nats.example.com:4333", User: "tok3n", Prefix: "acme.whatsapp"}},
		{"nats://u:p%40ss@[2606:4700::1]/x", chathook.BrokerURL{Kind: chathook.TargetNATS, Host: "2606:4700::1",
			Addr: "[2606:4700::1]:4222", User: "u", Password: "p@ss", HasPass: true, Prefix: "x"}},
		{"amqp://user:pass@mq.example.com/?exchange=chathook", chathook.BrokerURL{Kind: chathook.TargetAMQP,
			Host: "mq.example.com", Addr: "mq.example.com:5672", User: "user", Password: "pass", HasPass: true,
			VHost: "/", Exchange: "chathook"}},
		{"amqp://mq.example.com?exchange=x", chathook.BrokerURL{Kind: chathook.TargetAMQP, Host: "mq.example.com",
			Addr: "mq.example.com:5672", VHost: "/", Exchange: "x"}},
		{"amqps://u:@mq.example.com/prod?exchange=a.b:c-d_e", chathook.BrokerURL{Kind: chathook.TargetAMQP, TLS: true,
			Host: "mq.example.com", Addr: "mq.example.com:5671", User: "u", HasPass: true, VHost: "prod", Exchange: "a.b:c-d_e"}},
		{"amqp://mq.example.com:1234/%2Fprod?exchange=x", chathook.BrokerURL{Kind: chathook.TargetAMQP,
			Host: "mq.example.com", Addr: "mq.example.com:1234", VHost: "/prod", Exchange: "x"}},
	} {
		got, err := chathook.ParseBrokerURL(c.raw)
		if err != nil || got != c.want {
			t.Errorf("ParseBrokerURL(%q) =\n %+v, %v\nwant %+v", c.raw, got, err, c.want)
		}
	}
	// Each error names the part that is wrong, and never the password.
	for raw, part := range map[string]string{
		"https://example.com/":                 "nats://",
		"nats:///x":                            "no host",
		"nats://S3cret@:4222/x":                "no host",
		"nats://127.0.0.1,evil.example/x":      "letters, digits", // nats.go would read two servers
		"nats://h/x#frag":                      "fragment",
		"nats://h:0/x":                         "port 0",
		"nats://h:65536/x":                     "port 65536",
		"nats://h:4222":                        "subject prefix",
		"nats://h:4222/":                       "subject prefix",
		"nats://h/a..b":                        "empty token",
		"nats://h/a.":                          "empty token",
		"nats://h/a.*":                         "*, >",
		"nats://h/a.>":                         "*, >",
		"nats://h/a/b":                         "*, >, /",
		"nats://h/a%20b":                       "spaces",
		"nats://h/" + strings.Repeat("a", 201): "too long",
		"nats://h/x?stream=y":                  "no ?parameters",
		"amqp://u:S3cret@h/":                   "no exchange",
		"amqp://u:S3cret@h/?exchange=":         "no exchange",
		"amqp://h/?exchange=x&queue=y":         "?queue",
		"amqp://h/?exchange=a%20b":             "exchange \"a b\"",
		"amqp://h/?exchange=" + strings.Repeat("x", 256):    "too long",
		"amqp://h/?exchange=a&exchange=b":                   "exchange",
		"amqp://u:S3cret@h:99999/?exchange=x":               "port 99999",
		"amqp://u:S3cret@h:5672/v host?exchange=x#x":        "fragment",
		"amqp://u:S3c%zzret@h/?exchange=x":                  "not a URL",
		"nats://u:S3cret@h:http/x":                          "not a URL",
		"amqp://user:S3cret word@mq.example.com/?exchange":  "not a URL",
		"amqp://user:123/S3cret@mq.example.com/?exchange=x": "@ after the host",
		"nats://tok/S3cret@nats.example.com/x":              "@ after the host",
	} {
		_, err := chathook.ParseBrokerURL(raw)
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("ParseBrokerURL(%q) = %v, want an error naming %q", raw, err, part)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") {
			t.Errorf("ParseBrokerURL(%q): the error shows the password: %v", raw, err)
		}
	}
}

func TestCheckWebhookBrokerURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"nats://nats.example.com:4222/whatsapp":                true,
		"nats://tok3n@nats.example.com/whatsapp":               true,
		"amqp://user:pass@mq.example.com:5672/?exchange=x":     true,
		"amqps://user:pass@mq.example.com/prod?exchange=x":     true,
		"amqp://user:pass@8.8.8.8/?exchange=x":                 true,
		"nats://127.0.0.1:4222/whatsapp":                       false,
		"nats://localhost/whatsapp":                            false,
		"nats://x.localhost/whatsapp":                          false,
		"amqp://guest:guest@127.0.0.1:5672/?exchange=x":        false,
		"amqp://guest:guest@10.0.0.1/?exchange=x":              false,
		"amqp://guest:guest@169.254.169.254/?exchange=x":       false,
		"amqp://guest:guest@2130706433/?exchange=x":            false,
		"nats://[::1]/x":                                       false,
		"nats://[::ffff:127.0.0.1]/x":                          false,
		"nats://1.2.3.999/x":                                   false,
		"amqp://mq.example.com/":                               false,
		"nats://nats.example.com/":                             false,
		"redis://nats.example.com/":                            false,
		"nats://nats.example.com/" + strings.Repeat("a", 2100): false,
	} {
		if err := chathook.CheckWebhookURL(raw, false); (err == nil) != ok {
			t.Errorf("CheckWebhookURL(%q) = %v", raw, err)
		}
	}
	// Private hosts are allowed with allowPrivate, and nothing else is.
	for raw, ok := range map[string]bool{
		"nats://127.0.0.1:4222/whatsapp":                true,
		"nats://localhost/whatsapp":                     true,
		"amqp://guest:guest@127.0.0.1:5672/?exchange=x": true,
		"amqp://guest:guest@127.0.0.1:5672/":            false,
		"nats://1.2.3.999/x":                            false,
		"nats://127.0.0.1:99999/x":                      false,
	} {
		if err := chathook.CheckWebhookURL(raw, true); (err == nil) != ok {
			t.Errorf("CheckWebhookURL(%q, allowPrivate) = %v", raw, err)
		}
	}
	err := chathook.CheckWebhookURL("amqp://guest:S3cret@127.0.0.1/?exchange=x", false)
	if !errors.Is(err, chathook.ErrPrivateTarget) || strings.Contains(err.Error(), "S3cret") {
		t.Errorf("private broker: %v, want ErrPrivateTarget without the password", err)
	}
	// Credentials are for broker URLs only; an http URL never takes them,
	// and its errors do not repeat them either.
	for _, raw := range []string{"https://user:S3cret@hook.example.com/", "http://:S3cret@hook.example.com/",
		"https://u:S3cret word@hook.example.com/", " https://u:S3cret@hook.example.com/", "ftp://u:S3cret@x.example.com/",
		" nats://u:S3cret@nats.example.com/x"} {
		err := chathook.CheckWebhookURL(raw, true)
		if err == nil || strings.Contains(err.Error(), "S3cret") {
			t.Errorf("CheckWebhookURL(%q) = %v, want a refusal without the password", raw, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		// http(s) URLs without credentials, and broker URLs without, as they are.
		"https://hook.example.com/in?a=b%20c#x":      "https://hook.example.com/in?a=b%20c#x",
		"https://hook.example.com/in?to=a@b.example": "https://hook.example.com/in?to=a@b.example", // '@' in a query is no credential
		"http://hook.example.com:8080/%7Euser/":      "http://hook.example.com:8080/%7Euser/",
		"nats://nats.example.com:4222/acme":          "nats://nats.example.com:4222/acme",
		"amqp://mq.example.com/%2Fprod?exchange=x":   "amqp://mq.example.com/%2Fprod?exchange=x",
		"":          "",
		"not a url": "not a url",
		"amqp://guest@mq.example.com/?exchange=x":     "amqp://guest@mq.example.com/?exchange=x", // a user alone is no secret to AMQP
		"amqp://user:pass@mq.example.com/?exchange=x": "amqp://user:***@mq.example.com/?exchange=x",
		"amqps://user:@mq.example.com/?exchange=x":    "amqps://user:***@mq.example.com/?exchange=x",
		// Reserved characters and %-escapes, in the password and around it.
		"amqp://us%40er:p%40ss%2Fw%3Ard%3F@mq.example.com:5672/%2Fprod?exchange=x": "amqp://us%40er:***@mq.example.com:5672/%2Fprod?exchange=x",
		"amqp://user:p%2A%2A%2A@mq.example.com/?exchange=x":                        "amqp://user:***@mq.example.com/?exchange=x",
		"amqp://***:pass@mq.example.com/?exchange=x":                               "amqp://%2A%2A%2A:***@mq.example.com/?exchange=x",
		// A NATS token is the user alone.
		"nats://tok3nSecret@127.0.0.1:4222/acme":   "nats://***@127.0.0.1:4222/acme",
		"nats://user:pw@127.0.0.1:4222/acme":       "nats://user:***@127.0.0.1:4222/acme",
		"NATS://tok3nSecret@nats.example.com/acme": "nats://***@nats.example.com/acme",
		// Redacting twice changes nothing.
		"amqp://user:***@mq.example.com/?exchange=x": "amqp://user:***@mq.example.com/?exchange=x",
		"nats://***@nats.example.com/acme":           "nats://***@nats.example.com/acme",
	} {
		if got := chathook.RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
	// URLs that do not parse, or parse as something else than was meant,
	// show no part of the password.
	for _, raw := range []string{
		"amqp://user:S3cret word@mq.example.com/?exchange=x",
		"amqp://user:S3c%zzret@mq.example.com/?exchange=x",
		"amqp://user:S3c/ret@mq.example.com:5672/?exchange=x",
		"amqp://user:S3c?ret@mq.example.com:5672/?exchange=x",
		"nats://user:S3c#ret@nats.example.com/x",
		"nats://user:S3cret@nats.example.com:http/x",
		"nats://S3cret word@nats.example.com/x",
		" nats://user:S3cret@nats.example.com/x",
		"https://user:S3cret@hook.example.com:99999999999/",
		"https://user:S3c ret@hook.example.com/",
		"amqp://user:123/S3cret@mq.example.com/?exchange=x",
		"nats://tok/S3cret@nats.example.com/x",
		// Written without "//": parsed as opaque or a path, with no user.
		"amqp:user:S3cret@mq.example.com/?exchange=x",
		"amqp:/user:S3cret@mq.example.com/?exchange=x",
		"amqp//user:S3cret@mq.example.com/?exchange=x",
		"nats:S3cret@nats.example.com/p",
		// A token in an http URL, which is refused, but shown in the form again.
		"https://S3cret@hook.example.com/",
	} {
		got := chathook.RedactURL(raw)
		if strings.Contains(got, "S3c") || strings.Contains(got, "ret@") {
			t.Errorf("RedactURL(%q) = %q, shows the password", raw, got)
		}
		if !strings.Contains(got, chathook.Redacted) {
			t.Errorf("RedactURL(%q) = %q, without %s where the password was", raw, got, chathook.Redacted)
		}
	}
}

func TestKeepCredentials(t *testing.T) {
	const amqp = "amqp://user:p%40ss@mq.example.com/?exchange=x"
	const nats = "nats://tok3n@nats.example.com/acme"
	for _, c := range []struct{ next, prev, want string }{
		// No *** : the URL as given, whatever was stored.
		{"amqp://user:new@mq.example.com/?exchange=x", amqp, "amqp://user:new@mq.example.com/?exchange=x"},
		{"https://hook.example.com/", amqp, "https://hook.example.com/"},
		{"nats://nats.example.com/acme", nats, "nats://nats.example.com/acme"},
		// The URL as shown keeps the stored password.
		{chathook.RedactURL(amqp), amqp, "amqp://user:p%40ss@mq.example.com/?exchange=x"},
		{"amqp://user:***@MQ.example.com:5672/other?exchange=y", amqp, "amqp://user:p%40ss@MQ.example.com:5672/other?exchange=y"},
		{"amqps://user:***@mq.example.com/?exchange=x", "amqps://user:pw@mq.example.com:5671/?exchange=x", "amqps://user:pw@mq.example.com/?exchange=x"},
		// A token is kept as a token, and with its subject changed.
		{chathook.RedactURL(nats), nats, nats},
		{"nats://***@nats.example.com:4222/other", nats, "nats://tok3n@nats.example.com:4222/other"},
		{"nats://user:***@nats.example.com/acme", "nats://user:pw@nats.example.com/acme", "nats://user:pw@nats.example.com/acme"},
	} {
		got, err := chathook.KeepCredentials(c.next, c.prev)
		if err != nil || got != c.want {
			t.Errorf("KeepCredentials(%q, %q) = %q, %v; want %q", c.next, c.prev, got, err, c.want)
		}
	}
	// Another server, or nothing stored to keep: an error that names the
	// URL and shows no password.
	for _, c := range []struct{ next, prev string }{
		{"amqp://user:***@evil.example.com/?exchange=x", amqp},
		{"amqp://user:***@mq.example.com:5673/?exchange=x", amqp},
		{"amqps://user:***@mq.example.com/?exchange=x", amqp}, // another port too: 5671
		{"nats://user:***@mq.example.com:5672/x", "amqp://user:p%40ss@mq.example.com:5672/?exchange=x"},
		{"nats://***@evil.example.com/acme", nats},
		{"amqp://user:***@mq.example.com/?exchange=x", "amqp://user@mq.example.com/?exchange=x"},
		{"amqp://user:***@mq.example.com/?exchange=x", "amqp://mq.example.com/?exchange=x"},
		{"amqp://user:***@mq.example.com/?exchange=x", ""},
		{"nats://user:***@nats.example.com/acme", nats},       // a token is no password
		{"amqp://admin:***@mq.example.com/?exchange=x", amqp}, // the password is its user's only
		{"amqp://***:***@mq.example.com/?exchange=x", amqp},
		{"nats://***@nats.example.com/acme", "nats://user:pw@nats.example.com/acme"}, // a password is no token
		{"nats://***@nats.example.com/acme", "nats://nats.example.com/acme"},
	} {
		got, err := chathook.KeepCredentials(c.next, c.prev)
		if err == nil {
			t.Errorf("KeepCredentials(%q, %q) = %q, want an error", c.next, c.prev, got)
			continue
		}
		if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "p%40ss") || strings.Contains(err.Error(), "tok3n") {
			t.Errorf("KeepCredentials(%q, %q): %v shows the stored credentials", c.next, c.prev, err)
		}
		if !strings.Contains(err.Error(), "***") {
			t.Errorf("KeepCredentials(%q, %q): %v does not say what *** means", c.next, c.prev, err)
		}
	}
	// An http URL takes no credentials: none are kept, and the URL is
	// refused as it was given.
	got, err := chathook.KeepCredentials("https://user:***@mq.example.com/", "https://user:p%40ss@mq.example.com/")
	if err != nil || got != "https://user:***@mq.example.com/" || chathook.CheckWebhookURL(got, true) == nil {
		t.Errorf("KeepCredentials(https) = %q, %v; want it unchanged, and refused", got, err)
	}
	// A shown URL sent back is the stored one, for every kind.
	for _, stored := range []string{amqp, nats, "nats://u:p%3Aw@nats.example.com/a.b", "amqps://u:%2A%2A%2A@mq.example.com/v?exchange=x"} {
		got, err := chathook.KeepCredentials(chathook.RedactURL(stored), stored)
		if err != nil {
			t.Errorf("KeepCredentials(RedactURL(%q)): %v", stored, err)
			continue
		}
		a, errA := chathook.ParseBrokerURL(got)
		b, errB := chathook.ParseBrokerURL(stored)
		if errA != nil || errB != nil || a != b {
			t.Errorf("KeepCredentials(RedactURL(%q)) = %q: %+v, want %+v", stored, got, a, b)
		}
	}
}
