package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// --cpu-profile (or CHATHOOK_CPU_PROFILE) is off by default; a file that
// cannot be created stops serve before it starts, naming the flag.
func TestServeCPUProfileSetting(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, ""},
		{[]string{"--cpu-profile", "cpu.prof"}, nil, "cpu.prof"},
		{nil, map[string]string{"CHATHOOK_CPU_PROFILE": "/tmp/x.prof"}, "/tmp/x.prof"},
		{[]string{"--cpu-profile", "a.prof"}, map[string]string{"CHATHOOK_CPU_PROFILE": "b.prof"}, "a.prof"},
	} {
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.CPUProfile != c.want {
			t.Errorf("%v %v: %q (%v), want %q", c.args, c.env, cfg.CPUProfile, err, c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "no such folder", "cpu.prof")
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"serve flag": {args: []string{"serve", "--cpu-profile", bad}},
		"serve env":  {args: []string{"serve"}, env: map[string]string{"CHATHOOK_CPU_PROFILE": bad}},
		"bench flag": {args: []string{"bench", "--cpu-profile", bad}},
		"bench env":  {args: []string{"bench"}, env: map[string]string{"CHATHOOK_BENCH_CPU_PROFILE": bad}},
	} {
		t.Run(name, func(t *testing.T) {
			// Cancelled, and on a database in a folder of its own: were the
			// profile's path taken, nothing would run for long.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			args := append(c.args, "--db", "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
			var stdout, stderr bytes.Buffer
			if code := run(ctx, args, env(c.env), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--cpu-profile") {
				t.Errorf("exit %d, want 2 naming --cpu-profile; stderr %s", code, stderr.String())
			}
		})
	}
}

// TestBenchCPUProfile runs `chathook bench --cpu-profile`: the service
// writes its CPU profile on SIGTERM, a gzipped pprof protobuf.
func TestBenchCPUProfile(t *testing.T) {
	bin := chathookBinary(t)
	// Relative, from the bench's working folder: the service gets it absolute.
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "bench", "--workload", "single", "--messages", "300", "--clients", "8", "--loopback=false",
		"--cpu-profile", "cpu.prof")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chathook bench: %v\nstderr: %s", err, stderr.String())
	}
	decodeReport(t, stdout.Bytes())
	path := filepath.Join(dir, "cpu.prof")
	if !strings.Contains(stderr.String(), `msg="wrote the CPU profile" file=`+path) {
		t.Errorf("the service did not say it wrote %s:\n%s", path, stderr.String())
	}
	checkCPUProfile(t, path)
}

// checkCPUProfile reads a profile as `go tool pprof` would start to:
// gzip, then a protobuf message (perftools.profiles.Profile) whose string
// table names the cpu sample type. github.com/google/pprof is not a
// dependency, so the fields are read with protowire.
func checkCPUProfile(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatalf("%s: %d bytes, not gzip", path, len(raw))
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := io.ReadAll(zr)
	if err != nil || len(pb) == 0 {
		t.Fatalf("gunzip: %d bytes, %v", len(pb), err)
	}
	var strs []string
	for b := pb; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("not a protobuf message: %v", protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(m))
		}
		if num == 6 && typ == protowire.BytesType { // string_table
			s, _ := protowire.ConsumeBytes(b)
			strs = append(strs, string(s))
		}
		b = b[m:]
	}
	if !slices.Contains(strs, "cpu") || !slices.Contains(strs, "nanoseconds") {
		t.Errorf("no cpu/nanoseconds sample type in the profile's strings: %q", strs[:min(len(strs), 10)])
	}
}
