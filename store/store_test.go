package store

import "testing"

// RunShareFrom is the fewest claimable chats that give the share of a
// claim's limit in chats: fewer give more each, more give the same.
func TestRunShareFrom(t *testing.T) {
	for limit := 1; limit <= 2048; limit++ {
		from, least := RunShareFrom(limit), RunShare(limit, limit)
		if from < 1 || from > limit {
			t.Fatalf("limit %d: from %d chats, outside 1..limit", limit, from)
		}
		if got := RunShare(limit, from); got != least {
			t.Fatalf("limit %d: %d chats give %d each, %d chats give %d", limit, from, got, limit, least)
		}
		if from > 1 && RunShare(limit, from-1) == least {
			t.Fatalf("limit %d: %d chats already give %d each, fewer than %d", limit, from-1, least, from)
		}
	}
	if got := RunShareFrom(512); got != 64 {
		t.Errorf("RunShareFrom(512) = %d, want 64: 64 chats of 8", got)
	}
}
