package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/store/postgres/pgtest"
)

// Crash test settings: 64 clients post single messages as fast as they
// can; the service is killed (SIGKILL) once killAfter of them have been
// answered, or after killAt at the latest on a machine too busy for that.
const (
	crashClients = 64
	killAfter    = 2000
	killAt       = 20 * time.Second
	crashRounds  = 3 // kills at most, until one catches requests in flight
)

// TestCrashLosesNoAcceptedMessage is issue 14's "a crash mid-group loses
// no message that was answered 202", as a real crash: `chathook serve`
// runs as its own process, 64 clients post single messages to it, and it
// is killed with SIGKILL while requests are in flight. Restarted on the
// same database, it must know every message it answered 202: posted again,
// each one is a duplicate, in the chat the first answer named.
func TestCrashLosesNoAcceptedMessage(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testCrash(t, chathookBinary(t), "sqlite:"+filepath.Join(t.TempDir(), "crash.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		bin := chathookBinary(t)
		testCrash(t, bin, pgtest.URL(t))
	})
}

func testCrash(t *testing.T, bin, db string) {
	token := createWorkspace(t, bin, db)
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: crashClients},
		Timeout:   time.Minute, // only against a hang: the kill ends every request at once
	}
	poster := messagePoster{client: client, token: token}

	answered := map[int]string{} // message number → the chat_id of its 202
	var inFlight []int           // messages posted before a kill and never answered
	var next atomic.Int64        // the last message number taken, over all rounds
	for round := 1; ; round++ {
		svc := startServe(t, bin, db)
		a, f := crashRound(t, poster, svc, &next)
		for n, chat := range a {
			answered[n] = chat
		}
		inFlight = append(inFlight, f...)
		t.Logf("kill %d: %d messages answered 202, %d posted and not answered", round, len(a), len(f))
		if t.Failed() {
			return
		}
		if len(f) > 0 {
			break
		}
		if round == crashRounds {
			t.Fatalf("%d kills and never a request in flight: the test did not crash the service mid-group", round)
		}
	}
	if len(answered) == 0 {
		t.Fatal("no message was answered 202 before the kill: nothing was tested")
	}

	// Restarted, the service must know every message it answered 202.
	svc := startServe(t, bin, db)
	defer svc.stop(t)
	numbers := slices.Sorted(func(yield func(int) bool) {
		for n := range answered {
			if !yield(n) {
				return
			}
		}
	})
	again := postAll(t, poster, svc, append(numbers, inFlight...))
	var lost []string
	for _, n := range numbers {
		got := again[n]
		if got.Status != "duplicate" || got.ChatID != answered[n] {
			lost = append(lost, fmt.Sprintf("message %d (chat %s): posted again, %s in chat %q", n, answered[n], got.Status, got.ChatID))
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d messages answered 202 before the kill are not stored as answered, e.g.:\n%s",
			len(lost), len(answered), strings.Join(lost[:min(len(lost), 10)], "\n"))
	}
	// Those in flight may have been committed or not; either is right.
	// How many were tells whether the kill fell inside a transaction.
	stored := 0
	for _, n := range inFlight {
		switch again[n].Status {
		case "duplicate":
			stored++
		case "accepted":
		default:
			t.Errorf("message %d, in flight at a kill, posted again: %+v", n, again[n])
		}
	}
	t.Logf("of the %d messages in flight at the kill, %d had been committed without an answer", len(inFlight), stored)
}

// crashRound posts new messages from crashClients clients until killAfter
// are answered (or killAt has passed), kills the service with SIGKILL,
// and returns the messages answered 202 (with their chat_id) and those
// posted before the kill that got no answer. Any other answer, or an
// error before the kill, fails the test.
func crashRound(t *testing.T, p messagePoster, svc *serveProcess, next *atomic.Int64) (answered map[int]string, inFlight []int) {
	var (
		mu      sync.Mutex
		count   atomic.Int64
		killing atomic.Bool
		wg      sync.WaitGroup
		target  = make(chan struct{})
		once    sync.Once
	)
	answered = map[int]string{}
	for range crashClients {
		wg.Go(func() {
			for !killing.Load() {
				n := int(next.Add(1))
				got, err := p.post(svc.url, n)
				if err != nil {
					if !killing.Load() {
						t.Errorf("message %d, before the kill: %v", n, err)
					}
					mu.Lock()
					inFlight = append(inFlight, n)
					mu.Unlock()
					return
				}
				if got.Status != "accepted" || got.ChatID == "" {
					t.Errorf("message %d, new: %+v, want accepted with a chat_id", n, got)
					return
				}
				mu.Lock()
				answered[n] = got.ChatID
				mu.Unlock()
				if count.Add(1) >= killAfter {
					once.Do(func() { close(target) })
				}
			}
		})
	}
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	timer := time.NewTimer(killAt)
	defer timer.Stop()
	select {
	case <-target:
	case <-timer.C:
		t.Logf("only %d answered after %v: killing now", count.Load(), killAt)
	case <-clientsDone: // every client failed: the errors say why
	}
	killing.Store(true)
	svc.kill(t)
	<-clientsDone
	return answered, inFlight
}

// postAll posts messages again from crashClients clients and returns each
// one's answer; an error or another status than 202 fails the test.
func postAll(t *testing.T, p messagePoster, svc *serveProcess, numbers []int) map[int]ingestAnswer {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := make(map[int]ingestAnswer, len(numbers))
	work := make(chan int)
	for range crashClients {
		wg.Go(func() {
			for n := range work {
				got, err := p.post(svc.url, n)
				if err != nil {
					t.Errorf("message %d, after the restart: %v", n, err)
					continue
				}
				mu.Lock()
				out[n] = got
				mu.Unlock()
			}
		})
	}
	for _, n := range numbers {
		work <- n
	}
	close(work)
	wg.Wait()
	return out
}

// ingestAnswer is the body of a 202 from POST /api/v1/messages.
type ingestAnswer struct {
	Status string `json:"status"`
	ChatID string `json:"chat_id"`
	Reason string `json:"reason"`
}

type messagePoster struct {
	client *http.Client
	token  string
}

// post sends message n: always the same message for the same n, one of
// 50 chats of one account. An error means no complete answer came.
func (p messagePoster) post(base string, n int) (ingestAnswer, error) {
	body := fmt.Sprintf(`{"account":{"phone":"+15550000001"},"chat":{"external_id":"+1555300%04d"},`+
		`"message_id":"crash-%d","direction":"received","text":"message %d"}`, n%50, n, n)
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/messages", strings.NewReader(body))
	if err != nil {
		return ingestAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		return ingestAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return ingestAnswer{}, err
	}
	var got ingestAnswer
	if resp.StatusCode != http.StatusAccepted {
		return got, fmt.Errorf("%d %.200s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return got, fmt.Errorf("202 %.200s: %v", raw, err)
	}
	return got, nil
}
