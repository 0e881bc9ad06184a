package bench

import (
	"strconv"
	"strings"
	"sync"
)

// idPrefix starts the message_id of every message the load generator
// sends: "bench-<index>". The index names the message's chat and its
// place in that chat's ingest order (see plan).
const idPrefix = "bench-"

func messageID(i int) string { return idPrefix + strconv.Itoa(i) }

// parseID returns the index of a message_id the generator made, or false.
func parseID(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, idPrefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0
}

// tally is what the sink saw, message by message. Times are nanoseconds
// since the run's start (see clock), and 0 means "not yet".
//
// The order check relies on the plan: a chat's messages are ingested by
// one client, one request after another, in increasing index, so a
// lower index of the same chat was ingested earlier. A message whose first
// delivery comes after a higher index of its chat was delivered is an
// order violation; each such message counts once.
//
// With several endpoints, each is tallied on its own (every message must
// reach each once, in order per chat), and the counts are their sums.
type tally struct {
	plan plan

	mu         sync.Mutex
	receivedAt [][]int64 // per endpoint: first delivery of each message
	highest    [][]int   // per endpoint and chat: highest index delivered so far, -1 none
	delivered  int       // distinct messages, summed over endpoints
	duplicated int       // deliveries of a message already delivered
	unexpected int       // message_ids the generator never sent
	outOfOrder int
	posts      int   // webhook POSTs
	last       int64 // when the last new message arrived
	progress   chan struct{}
}

func newTally(p plan, endpoints int) *tally {
	t := &tally{plan: p, progress: make(chan struct{}, 1)}
	for range max(1, endpoints) {
		highest := make([]int, p.chats)
		for i := range highest {
			highest[i] = -1
		}
		t.receivedAt, t.highest = append(t.receivedAt, make([]int64, p.messages)), append(t.highest, highest)
	}
	return t
}

// post records one webhook POST to endpoint ep (0 is outbound) carrying
// ids, in the order the payload lists them, received at at.
func (t *tally) post(ep int, ids []string, at int64) {
	t.mu.Lock()
	t.posts++
	if ep < 0 || ep >= len(t.receivedAt) {
		t.unexpected += len(ids)
		ids = nil
	}
	for _, id := range ids {
		i, ok := parseID(id)
		if !ok || i >= t.plan.messages {
			t.unexpected++
			continue
		}
		if t.receivedAt[ep][i] != 0 {
			t.duplicated++
			continue
		}
		t.receivedAt[ep][i] = at
		t.delivered++
		t.last = at
		c := t.plan.chat(i)
		if i < t.highest[ep][c] {
			t.outOfOrder++
		} else {
			t.highest[ep][c] = i
		}
	}
	t.mu.Unlock()
	select {
	case t.progress <- struct{}{}:
	default:
	}
}

// counts is a consistent snapshot of the counters.
type counts struct {
	posts, delivered, duplicated, unexpected, outOfOrder int
	last                                                 int64
}

func (t *tally) counts() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return counts{t.posts, t.delivered, t.duplicated, t.unexpected, t.outOfOrder, t.last}
}

// latencies returns, for every delivered message, its first delivery time
// minus from(i), never below 0: a message can reach the sink before its
// ingest client has read the 202 that acknowledges it.
func (t *tally) latencies(from func(i int) int64) []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int64, 0, t.delivered)
	for _, received := range t.receivedAt {
		for i, at := range received {
			if at != 0 {
				out = append(out, max(0, at-from(i)))
			}
		}
	}
	return out
}

// endpoint returns endpoint ep's share: its distinct messages, when the
// last arrived, and their latencies as latencies does.
func (t *tally) endpoint(ep int, from func(i int) int64) (delivered int, last int64, lat []int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, at := range t.receivedAt[ep] {
		if at != 0 {
			delivered++
			last = max(last, at)
			lat = append(lat, max(0, at-from(i)))
		}
	}
	return delivered, last, lat
}
