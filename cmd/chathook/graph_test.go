package main

import (
	"bytes"
	"strings"
	"testing"
)

// --graph-api-url (CHATHOOK_GRAPH_API_URL) is Meta's Graph API unless
// set, a flag wins over the environment, and what is not an absolute
// http(s) URL stops serve before it starts.
func TestGraphAPIURLSetting(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "https://graph.facebook.com/v23.0"},
		{"env", nil, map[string]string{"CHATHOOK_GRAPH_API_URL": "http://127.0.0.1:9999/v23.0"}, "http://127.0.0.1:9999/v23.0"},
		{"flag wins", []string{"--graph-api-url", "https://graph-proxy.example/v23.0"},
			map[string]string{"CHATHOOK_GRAPH_API_URL": "http://127.0.0.1:9999"}, "https://graph-proxy.example/v23.0"},
	} {
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.GraphAPIURL != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, cfg.GraphAPIURL, err, c.want)
		}
	}
	for _, bad := range []string{"", "graph.facebook.com/v23.0", "ftp://graph.example", "https://graph.example/?access_token=x", "http://"} {
		if _, err := parseServe([]string{"--graph-api-url", bad}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--graph-api-url") {
			t.Errorf("--graph-api-url %q: err = %v", bad, err)
		}
	}
}
