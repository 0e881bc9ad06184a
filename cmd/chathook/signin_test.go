package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// --trusted-proxies (or its env) takes addresses and CIDR ranges; by
// default no proxy is trusted, and a bad entry is a usage error naming
// the flag.
func TestTrustedProxiesSetting(t *testing.T) {
	cfg, err := parseServe(nil, env(nil), &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || len(cfg.TrustedProxies) != 0 {
		t.Errorf("default: %v %v, want none", cfg.TrustedProxies, err)
	}
	cfg, err = parseServe([]string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.1,::1, 2001:db8::/32"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{})
	if got := fmt.Sprint(cfg.TrustedProxies); err != nil || got != "[10.0.0.0/8 192.0.2.1/32 ::1/128 2001:db8::/32]" {
		t.Errorf("flag: %s %v", got, err)
	}
	cfg, err = parseServe(nil, env(map[string]string{"CHATHOOK_TRUSTED_PROXIES": "172.16.0.1/12"}), &bytes.Buffer{}, &bytes.Buffer{})
	if got := fmt.Sprint(cfg.TrustedProxies); err != nil || got != "[172.16.0.0/12]" {
		t.Errorf("env: %s %v", got, err)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/40", "10.0.0"} {
		if _, err := parseServe([]string{"--trusted-proxies", bad}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--trusted-proxies") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
