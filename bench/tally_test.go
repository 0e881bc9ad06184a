package bench

import (
	"slices"
	"testing"
)

func TestPercentilesNearestRank(t *testing.T) {
	msOf := func(vs ...int) []int64 {
		out := make([]int64, len(vs))
		for i, v := range vs {
			out[i] = int64(v) * 1e6
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 down to 1: percentiles must not depend on the input's order
	}
	cases := []struct {
		name string
		in   []int64
		want Percentiles
	}{
		{"none", nil, Percentiles{}},
		{"one", msOf(7), Percentiles{7, 7, 7, 7}},
		{"1 to 100", msOf(hundred...), Percentiles{50, 95, 99, 100}},
		{"one slow in ten", msOf(1, 1, 1, 1, 1, 1, 1, 1, 1, 900), Percentiles{1, 900, 900, 900}},
		{"sub-millisecond", []int64{1500, 2500, 250_000}, Percentiles{0.002, 0.25, 0.25, 0.25}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := percentiles(c.in); got != c.want {
				t.Errorf("percentiles = %+v, want %+v", got, c.want)
			}
		})
	}
}

// Ten messages over two chats: chat 0 has 0,2,4,6,8 and chat 1 has 1,3,5,7,9.
func TestTallyCountsDuplicatesOrderAndStrangers(t *testing.T) {
	tl := newTally(plan{messages: 10, chats: 2, clients: 1, batch: 10})
	tl.post([]string{"bench-0", "bench-2"}, 10) // a bundle: in order
	tl.post([]string{"bench-6"}, 20)
	tl.post([]string{"bench-4"}, 30)             // after 6 of its chat: out of order
	tl.post([]string{"bench-2"}, 40)             // again: a duplicate, not a second order violation
	tl.post([]string{"bench-10", "other-1"}, 50) // never sent
	tl.post([]string{"bench-9", "bench-1"}, 60)  // 1 after 9 of chat 1: out of order
	tl.post([]string{"bench-3", "bench-5"}, 70)  // below 9 too: each counts once
	tl.post([]string{"bench-7", "bench-8"}, 80)  // 8 is chat 0's highest: in order
	tl.post([]string{"(not a payload)"}, 90)

	c := tl.counts()
	want := counts{posts: 9, delivered: 10, duplicated: 1, unexpected: 3, outOfOrder: 5, last: 80}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
}

func TestTallyLatenciesFromAck(t *testing.T) {
	tl := newTally(plan{messages: 4, chats: 1, clients: 1, batch: 4})
	tl.post([]string{"bench-0", "bench-1"}, 1_000_000)
	tl.post([]string{"bench-3"}, 9_000_000)
	tl.post([]string{"bench-0"}, 99_000_000) // a duplicate: the first delivery counts
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

func TestFailuresListEveryNonZeroCount(t *testing.T) {
	if f := failures(Report{Sent: 10, Delivered: 10}); len(f) != 0 {
		t.Errorf("a clean run: %v", f)
	}
	f := failures(Report{Lost: 1, Duplicated: 2, OrderViolations: 3, Unexpected: 4})
	if len(f) != 4 {
		t.Errorf("failures = %q, want one for each of lost, duplicated, out of order, unexpected", f)
	}
}
