package bench

import (
	"slices"
	"testing"
)

// Ten messages over two chats: chat 0 has 0,2,4,6,8 and chat 1 has 1,3,5,7,9.
func TestTallyCountsDuplicatesOrderAndStrangers(t *testing.T) {
	tl := newTally(plan{messages: 10, chats: 2, clients: 1, batch: 10}, 1)
	tl.post(0, []string{"bench-0", "bench-2"}, 10) // a bundle: in order
	tl.post(0, []string{"bench-6"}, 20)
	tl.post(0, []string{"bench-4"}, 30)             // after 6 of its chat: out of order
	tl.post(0, []string{"bench-2"}, 40)             // again: a duplicate, not a second order violation
	tl.post(0, []string{"bench-10", "other-1"}, 50) // never sent
	tl.post(0, []string{"bench-9", "bench-1"}, 60)  // 1 after 9 of chat 1: out of order
	tl.post(0, []string{"bench-3", "bench-5"}, 70)  // below 9 too: each counts once
	tl.post(0, []string{"bench-7", "bench-8"}, 80)  // 8 is chat 0's highest: in order
	tl.post(0, []string{"(not a payload)"}, 90)

	c := tl.counts()
	want := counts{posts: 9, delivered: 10, duplicated: 1, unexpected: 3, outOfOrder: 5, last: 80}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
}

func TestTallyLatenciesFromAck(t *testing.T) {
	tl := newTally(plan{messages: 4, chats: 1, clients: 1, batch: 4}, 1)
	tl.post(0, []string{"bench-0", "bench-1"}, 1_000_000)
	tl.post(0, []string{"bench-3"}, 9_000_000)
	tl.post(0, []string{"bench-0"}, 99_000_000) // a duplicate: the first delivery counts
	ack := []int64{400_000, 2_000_000, 0, 5_000_000}
	got := tl.latencies(func(i int) int64 { return ack[i] })
	slices.Sort(got)
	// Message 1 arrived before its 202 was read: 0, not negative. 2 never arrived.
	if want := []int64{0, 600_000, 4_000_000}; !slices.Equal(got, want) {
		t.Errorf("latencies = %v, want %v", got, want)
	}
}

func TestParseID(t *testing.T) {
	for id, want := range map[string]int{"bench-0": 0, "bench-123456": 123456} {
		if got, ok := parseID(id); !ok || got != want || messageID(want) != id {
			t.Errorf("parseID(%q) = %d, %v", id, got, ok)
		}
	}
	for _, id := range []string{"", "bench-", "bench--1", "bench-x", "m1", "3EB0C767D26A1D2D"} {
		if _, ok := parseID(id); ok {
			t.Errorf("parseID(%q) accepted", id)
		}
	}
}

// TestTallyCountsEachEndpoint: with several endpoints every message must
// reach each once, in order per chat on each; one endpoint's copy is no
// duplicate of another's.
func TestTallyCountsEachEndpoint(t *testing.T) {
	tl := newTally(plan{messages: 4, chats: 1, clients: 1, batch: 4}, 2)
	tl.post(0, []string{"bench-0", "bench-1"}, 10)
	tl.post(1, []string{"bench-0"}, 20)
	tl.post(1, []string{"bench-2", "bench-1"}, 30) // 1 after 2 on endpoint 1: out of order
	tl.post(1, []string{"bench-2"}, 40)            // a duplicate on endpoint 1
	tl.post(2, []string{"bench-3"}, 50)            // no endpoint 2
	c := tl.counts()
	if c.delivered != 5 || c.duplicated != 1 || c.outOfOrder != 1 || c.unexpected != 1 || c.posts != 5 {
		t.Errorf("counts %+v", c)
	}
	if got := len(tl.latencies(func(int) int64 { return 0 })); got != 5 {
		t.Errorf("%d latencies, want one per message and endpoint", got)
	}
}
