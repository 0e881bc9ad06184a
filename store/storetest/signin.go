package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chathook/chathook/store"
)

// signIns are the tests of the failed sign-ins the web UI limits by.
var signIns = map[string]func(*testing.T, store.Store){
	"SignInFailuresCountPerKey":       testSignInFailuresCountPerKey,
	"SignInFailuresEvictOldestNotNew": testSignInFailuresEvictOldestNotNew,
	"SignInFailuresForgetTheirWindow": testSignInFailuresForgetTheirWindow,
}

func failSignIn(t *testing.T, st store.Store, at time.Time, keep int, keys ...string) {
	t.Helper()
	f := store.SignInFailure{At: at, Forget: at.Add(-time.Hour), Keep: keep}
	for _, k := range keys {
		f.Keys = append(f.Keys, []byte(k))
	}
	if err := st.FailSignIn(context.Background(), f); err != nil {
		t.Fatalf("fail sign-in %v: %v", keys, err)
	}
}

// signInCounts returns how many failures after after each key has, up to
// limit.
func signInCounts(t *testing.T, st store.Store, after time.Time, limit int, keys ...string) []int {
	t.Helper()
	var bs [][]byte
	for _, k := range keys {
		bs = append(bs, []byte(k))
	}
	got, err := st.SignInFailures(context.Background(), bs, after, limit)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("sign-in failures of %v: %d lists, %v", keys, len(got), err)
	}
	n := make([]int, len(got))
	for i, ts := range got {
		n[i] = len(ts)
	}
	return n
}

func testSignInFailuresCountPerKey(t *testing.T, st store.Store) {
	ctx := context.Background()
	for i := range 3 {
		failSignIn(t, st, t0.Add(time.Duration(i)*time.Minute), 1000, "addr", "addr+olga")
	}
	failSignIn(t, st, t0.Add(5*time.Minute), 1000, "addr", "addr+ivan")
	got, err := st.SignInFailures(ctx, [][]byte{[]byte("addr"), []byte("addr+olga"), []byte("nobody")}, t0.Add(-time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]time.Time{
		{t0.Add(5 * time.Minute), t0.Add(2 * time.Minute), t0.Add(time.Minute), t0},
		{t0.Add(2 * time.Minute), t0.Add(time.Minute), t0},
		nil,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failures newest first:\n got %v\nwant %v", got, want)
	}
	// after is exclusive, and limit keeps the newest.
	if n := signInCounts(t, st, t0, 10, "addr+olga"); n[0] != 2 {
		t.Errorf("failures after the first: %d, want 2", n[0])
	}
	if got, _ := st.SignInFailures(ctx, [][]byte{[]byte("addr")}, time.Time{}, 2); len(got[0]) != 2 || !got[0][1].Equal(t0.Add(2*time.Minute)) {
		t.Errorf("the newest 2: %v", got)
	}
	if err := st.ForgetSignInFailures(ctx, []byte("addr+olga")); err != nil {
		t.Fatal(err)
	}
	if n := signInCounts(t, st, time.Time{}, 10, "addr", "addr+olga", "addr+ivan"); n[0] != 4 || n[1] != 0 || n[2] != 1 {
		t.Errorf("after forgetting addr+olga: %v, want [4 0 1]", n)
	}
	if err := st.ForgetSignInFailures(ctx, []byte("nobody")); err != nil {
		t.Errorf("forgetting a key with no failures: %v", err)
	}
}

// A flood of distinct keys past the bound evicts the oldest failures; a
// failure recorded after it is counted, so the flood cannot turn
// counting off.
func testSignInFailuresEvictOldestNotNew(t *testing.T, st store.Store) {
	const keep = 20
	failSignIn(t, st, t0, keep, "victim")
	for i := range 3 * keep {
		failSignIn(t, st, t0.Add(time.Second), keep, fmt.Sprintf("junk %d", i))
	}
	at := t0.Add(2 * time.Second)
	for range 5 {
		failSignIn(t, st, at, keep, "attacker", "attacker+owner")
	}
	n := signInCounts(t, st, time.Time{}, 100, "attacker", "attacker+owner", "victim", "junk 0", fmt.Sprintf("junk %d", 3*keep-1))
	if n[0] != 5 || n[1] != 5 {
		t.Errorf("failures after a flood of %d keys past a bound of %d: %v, want 5 each", 3*keep, keep, n[:2])
	}
	if n[2] != 0 || n[3] != 0 {
		t.Errorf("the oldest failures were not evicted: %v", n[2:4])
	}
	if n[4] != 1 {
		t.Errorf("the newest junk key: %d, want 1 (kept)", n[4])
	}
	kept := 0
	for i := range 3 * keep {
		kept += signInCounts(t, st, time.Time{}, 100, fmt.Sprintf("junk %d", i))[0]
	}
	if total := kept + n[0] + n[1]; total > keep {
		t.Errorf("%d failures kept, bound %d", total, keep)
	}
}

func testSignInFailuresForgetTheirWindow(t *testing.T, st store.Store) {
	failSignIn(t, st, t0, 1000, "old")
	failSignIn(t, st, t0.Add(59*time.Minute), 1000, "recent")
	// Forget is an hour before each failure: the one at t0 goes now.
	failSignIn(t, st, t0.Add(time.Hour), 1000, "now")
	if n := signInCounts(t, st, time.Time{}, 10, "old", "recent", "now"); n[0] != 0 || n[1] != 1 || n[2] != 1 {
		t.Errorf("after pruning what is an hour old: %v, want [0 1 1]", n)
	}
}
