package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestLogFormat: --log-format (or CHATHOOK_LOG_FORMAT) picks text or
// JSON lines; anything else is refused, naming the setting, before the
// service starts.
func TestLogFormat(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		json bool
	}{
		{nil, nil, false},
		{[]string{"--log-format", "json"}, nil, true},
		{nil, map[string]string{"CHATHOOK_LOG_FORMAT": "json"}, true},
		{[]string{"--log-format=text"}, map[string]string{"CHATHOOK_LOG_FORMAT": "json"}, false},
	} {
		var stderr bytes.Buffer
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &stderr)
		if err != nil {
			t.Fatalf("%v %v: %v", c.args, c.env, err)
		}
		cfg.Logger.Info("hello", "n", 1)
		var line map[string]any
		isJSON := json.Unmarshal(stderr.Bytes(), &line) == nil && line["msg"] == "hello"
		if isJSON != c.json || (!c.json && !strings.Contains(stderr.String(), "msg=hello n=1")) {
			t.Errorf("%v %v: logged %q, want JSON %v", c.args, c.env, stderr.String(), c.json)
		}
	}
	for _, bad := range [][]string{{"--log-format", "yaml"}, {"--log-format", "JSON"}, {"--log-format", ""}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"serve"}, bad...), env(nil), &bytes.Buffer{}, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "--log-format") {
			t.Errorf("%v: exit %d, %q", bad, code, stderr.String())
		}
	}
	if _, err := parseServe(nil, env(map[string]string{"CHATHOOK_LOG_FORMAT": "xml"}), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--log-format") {
		t.Errorf("CHATHOOK_LOG_FORMAT=xml: err = %v", err)
	}
}

// TestMetricsAddrSetting: off by default, from the flag or the
// environment, and refused when it is not host:port.
func TestMetricsAddrSetting(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, ""},
		{[]string{"--metrics-addr", "127.0.0.1:9090"}, nil, "127.0.0.1:9090"},
		{nil, map[string]string{"CHATHOOK_METRICS_ADDR": ":9100"}, ":9100"},
	} {
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.MetricsAddr != c.want {
			t.Errorf("%v %v: %q (%v), want %q", c.args, c.env, cfg.MetricsAddr, err, c.want)
		}
	}
	if _, err := parseServe([]string{"--metrics-addr", "9090"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("--metrics-addr 9090: err = %v", err)
	}
}
