package deliver

import (
	"context"
	"slices"
	"time"

	"github.com/chathook/chathook"
)

// Fair shares
//
// Claimed runs wait in a lane per endpoint. The dispatcher starts them
// round-robin across the lanes, one run per lane per turn, with at most
// Config.Workers runs in flight in all and Config.PerEndpoint of any one
// endpoint. The claim skips the endpoints whose lanes cannot start
// anything now (see Dispatcher.claimable), so the store hands out the
// others' deliveries while a slow endpoint's wait in the database.
//
// Slots are shared by time held, not only by count. A lane whose recent
// attempts took slowAfter or more on average is slow, and the runs in
// flight of all slow lanes together hold at most Workers less a quarter
// (192 of 256): the quarter left is kept for the lanes whose receivers
// answer quickly, so their deliveries never wait seconds for a slot. The
// slow lanes share the rest evenly: none starts a run beyond its share of
// it (192 / 4 = 48 each with four slow lanes), so one that turned slow
// later than the others gets its share as their attempts end. Why a fixed
// reserve: a slot held for 14 s costs what 14,000 fast POSTs do, and a
// reserve needs no guess of how many endpoints are waiting. A receiver
// that was fast and turns slow keeps the slots it had, at most
// PerEndpoint, until those attempts end (at most Timeout): its first slow
// answers make its lane slow, and its runs beyond its share then put
// their rest back in the lane instead of making their next POST (goOn).
//
// A lane backs off from a failing receiver: it starts with one run in
// flight (the window), each success doubles the window up to PerEndpoint,
// and a failure brings it back to one. A receiver that fails from the
// start is thus disabled after exactly chathook.DisableAfter attempts,
// one at a time, not a lane's worth at once. One outage counts once: an
// attempt that fails after another failure of its endpoint was seen since
// it started (the lane's epoch, read as each attempt starts) was made
// before anyone knew, so the store does not count it toward the disable
// (store.Finished.Overlapped); a lane whose window was 64 when its
// receiver went down counts one failure, not 64. And a counted failure
// pauses the lane before its next attempt, for pauseFor: a fifth of the
// first retry's wait, doubled per consecutive counted failure, up to 12
// times that wait (1 s, 2 s, 4 s … 60 s with the default Schedule), and
// back to the first after a success. So a receiver that is down for a
// deploy of a few seconds, which refuses connections at once, is not
// disabled in the milliseconds its ten quick failures would take: ten
// take about four minutes of it being down. While paused a lane starts
// nothing, the claim passes over its endpoint as over a full one, and
// it is not dropped; when the pause ends a timer kicks the claim. A lane
// that pauses gives its waiting runs back to the store (released, and
// claimed again in order per chat once the pause ends), and its runs in
// flight give back their rest at their next attempt: a paused endpoint
// holds nothing in memory, so a long outage of one never fills the
// maxQueuedRuns that every endpoint's claims share. Its count of
// counted failures outlives the lane (see memo), so the pauses keep growing for a receiver still down whose
// retries come one at a time, each to a new lane. A lane's speed
// outlives the lane too, so a slow receiver's endpoint that pauses is
// still held to its share. Its window outlives it for windowKept only: a lane
// that empties between two messages (an endpoint sending one at a time)
// keeps its pace, where starting at one each time tripled the latency's
// p99 in `chathook bench --workload single`; after a longer pause the
// receiver may have started failing, so a new lane starts at one again,
// and its slow start reaches PerEndpoint after six successes.
//
// A lane also stops at once for its endpoint's disable: after a failed
// attempt it starts nothing until that outcome is recorded and the
// endpoint's state read back (the gate), and an endpoint found disabled has
// its waiting runs released untried. Only the POSTs already on the wire
// may still fail after the disable: none with a window of one.

// staleAfter is how old a claim may be before its run starts without
// reading the endpoint's state again: another instance may have disabled
// it meanwhile. At most one read per endpoint per staleAfter.
const staleAfter = time.Second

// maxQueuedRuns bounds, in units of BatchSize, the claimed deliveries
// that wait for a slot, whatever the number of slow endpoints: 2048.
const maxQueuedRuns = 2

// slowAfter is the average attempt time from which a lane is slow: well
// above a healthy receiver's answer, well below Timeout.
const slowAfter = time.Second

// memoAge is how long a slow lane's speed is remembered after the lane
// went idle, and memoCap how many lanes at most: a receiver's speed of
// the last ten minutes is still a fair guess, and one forgotten costs
// little: a new lane has one POST in flight until its first answer, which
// sets its speed.
const (
	memoAge = 10 * time.Minute
	memoCap = 1 << 16
)

// windowKept is how long an idle lane's window is remembered (see Fair
// shares): long enough to span the gaps of a steady flow of messages,
// too short for a receiver's health to be much older than its last answer.
const windowKept = 10 * time.Second

// memo is what an idle lane leaves behind for the next one of its
// endpoint: its speed and consecutive counted failures, and its window
// for windowKept (see Fair shares).
type memo struct {
	took   time.Duration
	window int
	failed int
	at     time.Time
}

// run is one chat's claimed deliveries, in order, and when they were
// claimed (real time).
type run struct {
	ep      int64 // the endpoint's Key
	dels    []chathook.Delivery
	claimed time.Time
}

// lane is one endpoint's share of the dispatcher; d.mu guards it.
type lane struct {
	ep         int64 // the endpoint's Key
	runs       []run // waiting for a slot, oldest first
	queued     int   // deliveries in runs
	busy       int   // runs in flight
	unrecorded int   // failed attempts not yet recorded and read back: the gate
	window     int   // runs it may have in flight: 1 to PerEndpoint (see Fair shares)
	epoch      int   // failures so far: an attempt started before the latest neither widens the window nor counts
	failed     int   // consecutive counted failures: the next pause is pauseFor(failed)
	paused     bool  // after a counted failure, until its pause ends: starts nothing
	// took is the attempts' average time, a quarter of it the latest's
	// (so one odd answer does not flip a lane); slow is took >= slowAfter,
	// and then the lane's busy counts in Dispatcher.slowBusy.
	took     time.Duration
	slow     bool
	disabled bool
	seen     time.Time // when the disable was learned (real time)
	checked  time.Time // when the webhook's state was last read (real time)
}

// idle reports whether the lane holds nothing worth keeping. A disabled
// lane is kept a while: a claim that began before the disable was
// learned may still bring its runs, which must not go out.
func (l *lane) idle(now time.Time) bool {
	return len(l.runs) == 0 && l.busy == 0 && l.unrecorded == 0 && !l.paused && (!l.disabled || now.Sub(l.seen) > time.Minute)
}

// laneLocked returns the lane of ep, creating it with the speed and
// failures an earlier lane of ep left in the memo, and its window if it
// left it within windowKept, or else a window of one; d.mu is held.
func (d *Dispatcher) laneLocked(ep int64) *lane {
	l := d.lanes[ep]
	if l == nil {
		l = &lane{ep: ep, window: 1}
		if m, ok := d.memo[ep]; ok {
			if since := time.Since(m.at); since < memoAge {
				l.took, l.failed = m.took, m.failed // failed only lengthens the pause after a next failure
				d.setSlowLocked(l, m.took >= slowAfter)
				if since < d.windowKept {
					l.window = max(1, m.window)
				}
			}
			delete(d.memo, ep)
		}
		d.lanes[ep] = l
	}
	return l
}

// dropIfIdleLocked deletes l if it is idle, leaving its speed, window
// and failures in the memo unless they are a new lane's; d.mu is held.
func (d *Dispatcher) dropIfIdleLocked(l *lane, now time.Time) {
	if !l.idle(now) {
		return
	}
	delete(d.lanes, l.ep)
	if l.slow {
		d.slowLanes--
	} else if l.window <= 1 && l.failed == 0 {
		return
	}
	if len(d.memo) >= memoCap && now.Sub(d.memoPruned) > memoAge/10 {
		d.memoPruned = now // a full memo is walked at most once a minute
		for ep, m := range d.memo {
			if now.Sub(m.at) >= memoAge {
				delete(d.memo, ep)
			}
		}
	}
	if len(d.memo) < memoCap {
		d.memo[l.ep] = memo{took: l.took, window: l.window, failed: l.failed, at: now}
	}
}

// heldBackLocked reports whether l may start no run now although it has
// some waiting: its window is full, its gate closed, it is paused, or it
// is slow and either the slow lanes hold all they may or l holds its
// share of that (slowCap / slowLanes, rounded up); d.mu is held.
func (d *Dispatcher) heldBackLocked(l *lane) bool {
	return l.busy >= l.window || l.unrecorded > 0 || l.paused ||
		(l.slow && (d.slowBusy >= d.slowCap || l.busy >= d.slowShareLocked()))
}

// overShareLocked reports whether slow lane l holds more runs in flight
// than heldBackLocked would let it start, or the slow lanes together do:
// as when a lane that had its window's worth turns slow. Its runs then
// give up their slots at their next POST (see goOn); d.mu is held.
func (d *Dispatcher) overShareLocked(l *lane) bool {
	return l.slow && (d.slowBusy > d.slowCap || l.busy > d.slowShareLocked())
}

// slowShareLocked is a slow lane's share of slowCap: slowCap / slowLanes,
// rounded up; d.mu is held and there is a slow lane.
func (d *Dispatcher) slowShareLocked() int {
	return (d.slowCap + d.slowLanes - 1) / d.slowLanes
}

// setSlowLocked classifies l, moving it and its runs in flight in or out
// of the slow lanes' counts; d.mu is held.
func (d *Dispatcher) setSlowLocked(l *lane, slow bool) {
	if slow == l.slow {
		return
	}
	if slow {
		d.slowBusy += l.busy
		d.slowLanes++
	} else {
		d.slowBusy -= l.busy
		d.slowLanes--
	}
	l.slow = slow
}

// enqueue holds claimed deliveries and puts them, one run per chat, in
// their endpoints' lanes, then starts what may start. A claim that
// began (at began) after a disable was learned saw the webhook enabled
// again; one that began before may predate the disable, and its runs of
// that endpoint are released untried.
func (d *Dispatcher) enqueue(claimed []chathook.Delivery, began time.Time) {
	if len(claimed) == 0 {
		return
	}
	d.hold(claimed)
	now := time.Now()
	var drop []chathook.Delivery
	d.mu.Lock()
	for _, dels := range byChat(claimed) {
		l := d.laneLocked(dels[0].Webhook.Key)
		if l.disabled {
			if l.seen.After(began) {
				drop = append(drop, dels...)
				continue
			}
			l.disabled = false
		}
		l.checked = later(l.checked, began) // the claim read the webhook enabled
		if len(l.runs) == 0 {
			d.ring = append(d.ring, l)
		}
		l.runs = append(l.runs, run{ep: l.ep, dels: dels, claimed: now})
		l.queued += len(dels)
		d.queued += len(dels)
	}
	d.mu.Unlock()
	d.release(drop)
	d.dispatch()
}

// dispatch starts waiting runs while there are free slots: round-robin
// over the lanes, one run per lane per turn, never beyond a lane's
// window, never from a gated lane, never from a slow lane beyond the slow
// lanes' share. A disabled or paused lane's runs are released (a paused
// one's are claimed again after its pause, see pauseLocked), as is
// everything once Run is stopping. It is O(lanes waiting) per run started.
func (d *Dispatcher) dispatch() {
	var drop []chathook.Delivery
	var start []run
	d.mu.Lock()
	for progress := true; progress && len(d.ring) > 0; {
		progress = false
		pos := d.next
		for n := len(d.ring); n > 0 && len(d.ring) > 0; n-- {
			if d.inFlight >= d.cfg.Workers && !d.stopping {
				break
			}
			pos %= len(d.ring)
			l := d.ring[pos]
			if !d.stopping && !l.disabled && !l.paused && d.heldBackLocked(l) {
				pos++
				continue
			}
			r := l.runs[0]
			l.runs[0] = run{}
			l.runs = l.runs[1:]
			l.queued -= len(r.dels)
			d.queued -= len(r.dels)
			if d.stopping || l.disabled || l.paused {
				drop = append(drop, r.dels...)
			} else {
				l.busy++
				if l.slow {
					d.slowBusy++
				}
				d.inFlight++
				start = append(start, r)
			}
			progress = true
			if len(l.runs) == 0 {
				d.ring = slices.Delete(d.ring, pos, pos+1) // pos is now the next lane
			} else {
				pos++
			}
			d.next = pos // the next turn is the next lane's
		}
	}
	d.mu.Unlock()
	d.release(drop)
	for _, r := range start {
		d.workers.Go(func() { d.deliverRun(r) })
	}
}

// done ends a run in flight: its slot is free for the next.
func (d *Dispatcher) done(ep int64) {
	d.mu.Lock()
	d.endLocked(d.lanes[ep])
	d.mu.Unlock()
	d.ended()
}

// endLocked frees the slot of a run of l that ends; d.mu is held. The
// caller calls ended once it has unlocked.
func (d *Dispatcher) endLocked(l *lane) {
	l.busy--
	if l.slow {
		d.slowBusy--
	}
	d.inFlight--
	d.dropIfIdleLocked(l, time.Now())
}

// ended starts what a freed slot lets start and wakes a Run waiting for one.
func (d *Dispatcher) ended() {
	d.dispatch()
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// claimable reports whether the Run loop should claim now, and which
// endpoints to skip: those with runs waiting that their window, gate or
// the slow lanes' share holds back, and those paused, which hold nothing. It should not while a waiting run
// could start once a slot frees (as before fair shares, a claim is made
// when the last one's runs have all started), nor while maxQueuedRuns
// claims' worth waits.
func (d *Dispatcher) claimable() (skip []int64, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.queued >= maxQueuedRuns*d.cfg.BatchSize {
		return nil, false
	}
	for _, l := range d.ring {
		if !d.heldBackLocked(l) && !l.disabled {
			return nil, false
		}
		skip = append(skip, l.ep)
	}
	for ep := range d.paused {
		skip = append(skip, ep)
	}
	return skip, true
}

// goOn reports whether run r, in flight, may make its next attempt (its
// first too), of rest, its untried deliveries: its webhook is not known
// to be disabled, no failure of the endpoint waits to be recorded, its
// lane is not paused and is within its window (which a failure since the
// run started may have narrowed), and, if the lane is slow, within the
// slow lanes' share (which the lane may have turned slow since, or other
// lanes slow). So a receiver that turns slow holds a slot no longer than
// the POST under way: at most Timeout. If so, it returns the lane's
// epoch, which the attempt's outcome is told: read under the lock that
// goOn takes anyway, it costs an attempt nothing more.
//
// If not, r ends: rest goes back to the store if the lane is paused, else
// at the head of its lane, where the chat's order is kept (the chat has nothing else in flight or waiting,
// since rest is still leased to this dispatcher), and r's slot is freed,
// both under one lock, so that runs deciding at the same moment see each
// other leave and no more of them stop than must. Then the caller must
// not call done.
func (d *Dispatcher) goOn(r run, rest []chathook.Delivery) (epoch int, ok bool) {
	d.mu.Lock()
	l := d.lanes[r.ep]
	if !l.disabled && l.unrecorded == 0 && !l.paused && l.busy <= l.window && !d.overShareLocked(l) {
		epoch = l.epoch
		d.mu.Unlock()
		return epoch, true
	}
	if len(l.runs) == 0 {
		d.ring = append(d.ring, l)
	}
	l.runs = slices.Insert(l.runs, 0, run{ep: r.ep, dels: rest, claimed: r.claimed})
	l.queued += len(rest)
	d.queued += len(rest)
	d.endLocked(l)
	d.mu.Unlock()
	d.ended()
	return 0, false
}

// outcome learns from an attempt of endpoint ep that started at the
// lane's epoch (see goOn) and took took: its lane's speed, and its
// window, which a success doubles (unless a failure came after the
// attempt started) and a failure brings to one, closing the gate until
// the failure is recorded. It reports whether a failure counts toward the
// disable: not when another failure was seen since the attempt started
// (store.Finished.Overlapped). A counted one pauses the lane (see Fair
// shares). What that lets start, starts now: runs of the
// lane that its window or the slow lanes' share held back, and, when the
// lane stops being slow, other slow lanes' runs (it gave back its part of
// their share). Otherwise nothing would start until some run ended, and a
// new lane's first run, of a chat with a long backlog, would hold back
// every other chat of its endpoint for the whole of it.
func (d *Dispatcher) outcome(ep int64, epoch int, ok bool, took time.Duration) (counted bool) {
	d.mu.Lock()
	l := d.lanes[ep]
	waiting := len(l.runs) > 0 && d.heldBackLocked(l)
	wasSlow := l.slow
	counted = d.learnLocked(l, epoch, ok, took)
	// Dispatch only when it may start something, or release what a pause
	// gave back: it walks the ring.
	wake := (waiting && !d.heldBackLocked(l)) || (wasSlow && !l.slow && len(d.ring) > 0) || (l.paused && len(l.runs) > 0)
	d.mu.Unlock()
	if wake {
		d.dispatch()
	}
	return counted
}

// learnLocked is outcome's bookkeeping; d.mu is held.
func (d *Dispatcher) learnLocked(l *lane, epoch int, ok bool, took time.Duration) (counted bool) {
	if l.took == 0 {
		l.took = took
	} else {
		l.took += (took - l.took) / 4
	}
	d.setSlowLocked(l, l.took >= slowAfter)
	fresh := epoch == l.epoch // no failure was seen since the attempt started
	if !ok {
		l.epoch++
		l.window = 1
		l.unrecorded++
		if fresh {
			l.failed++
			d.pauseLocked(l)
		}
		return fresh
	}
	if fresh {
		l.window = min(2*l.window, d.cfg.PerEndpoint)
		l.failed = 0
	}
	return false
}

// pauseLocked pauses l for pauseFor(l.failed), then lets it start again:
// one timer per counted failure, none per attempt; d.mu is held. A paused
// lane holds nothing: dispatch releases its waiting runs, and those that
// come back to it, for they would count in d.queued for the whole outage,
// and a few paused endpoints' worth would stop the claims of every other
// endpoint (see claimable). Released, they are claimed again, in order
// per chat, once the pause ends; meanwhile the claim and room pass over
// l's endpoint.
func (d *Dispatcher) pauseLocked(l *lane) {
	wait := pauseFor(d.cfg.Schedule, l.failed)
	if wait <= 0 {
		return
	}
	l.paused = true
	d.paused[l.ep] = struct{}{}
	time.AfterFunc(wait, func() {
		d.mu.Lock()
		l.paused = false // l is still the lane of l.ep: a paused lane is not idle, so not dropped
		delete(d.paused, l.ep)
		d.dropIfIdleLocked(l, time.Now())
		d.mu.Unlock()
		d.dispatch()
		d.Kick() // the claim passed over l's endpoint while it was paused
	})
}

// pauseFor is the pause after the k-th consecutive counted failure of a
// lane (k >= 1): a fifth of the first retry's wait, doubled per failure,
// at most 12 times that wait. Why the retry schedule sets it: it is how
// long the operator chose to give a receiver that blips, so tests with a
// quick schedule pause briefly, and no other setting is needed.
func pauseFor(schedule []time.Duration, k int) time.Duration {
	first := Schedule[0]
	if len(schedule) > 0 {
		first = schedule[0]
	}
	wait, most := first/5, 12*first
	for i := 1; i < k && wait < most; i++ {
		wait *= 2
	}
	return min(wait, most)
}

// fresh makes sure the webhook of a run claimed more than staleAfter ago
// is still enabled (another instance may have disabled it), reading it
// at most once per staleAfter per endpoint into the lane, where goOn
// finds it.
func (d *Dispatcher) fresh(r run) {
	now := time.Now()
	d.mu.Lock()
	l := d.lanes[r.ep]
	stale := now.Sub(r.claimed) > staleAfter && now.Sub(l.checked) > staleAfter
	if stale {
		l.checked = now // one reader at a time is enough
	}
	d.mu.Unlock()
	if stale {
		d.check(r.ep, now)
	}
}

// check reads an endpoint's state, read at or after at, into its lane.
func (d *Dispatcher) check(ep int64, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	wh, err := d.cfg.Store.Endpoint(ctx, ep)
	cancel()
	if err != nil {
		d.cfg.Logger.Error("read endpoint state", "endpoint", ep, "err", err)
		return
	}
	d.mu.Lock()
	if l := d.lanes[ep]; l != nil {
		l.checked = later(l.checked, at)
		if !wh.Enabled && !l.disabled {
			l.disabled, l.seen = true, at
		}
	}
	d.mu.Unlock()
}

// recorded opens the gates that failures recorded at or after at closed,
// after reading their webhooks' states: a webhook found disabled has its
// waiting runs released.
func (d *Dispatcher) recorded(failures map[int64]int, at time.Time) {
	for ep, n := range failures {
		d.check(ep, at)
		d.mu.Lock()
		l := d.lanes[ep]
		l.unrecorded -= n
		d.dropIfIdleLocked(l, time.Now())
		d.mu.Unlock()
	}
	if len(failures) > 0 {
		d.dispatch()
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
