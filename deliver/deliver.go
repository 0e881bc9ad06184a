// Package deliver is the dispatcher: it claims due deliveries from the
// store, POSTs them signed to the webhook, and records the outcome.
//
// Guarantees:
//   - At-least-once: a delivery is marked delivered only after a 2xx. A
//     dispatcher that dies mid-POST loses its lease and the delivery goes
//     out again; receivers deduplicate on webhook-id, which never changes.
//   - Per-chat order: one chat's deliveries go out one after another, in
//     ingest order; a failed one holds back the rest of its chat until it
//     succeeds or runs out of retries. Different chats go out side by side.
//   - On shutdown no new POST starts; those in flight get Grace to finish
//     (then the broker connections are closed, which ends any Send still
//     blocked), and every claim not finished is released for the next start.
//   - Several dispatchers, in one process or in several instances on one
//     database, share the queue with the same guarantees: the store hands a
//     chat's deliveries to one claimer at a time.
//   - Fair shares: no endpoint has more than PerEndpoint POSTs in flight,
//     waiting endpoints take turns for the Workers slots, and endpoints
//     whose receivers are slow hold at most three quarters of them
//     together, so a slow or silent receiver slows only its own endpoint
//     and the slow ones (see lanes.go).
//   - Backoff: after a failed attempt an endpoint has one POST in flight
//     until one succeeds, and pauses before each next one, longer after
//     each failure (see lanes.go); a webhook failing from the start is
//     disabled after chathook.DisableAfter POSTs, not more. One outage
//     counts once: attempts that were in flight together when the first
//     of them failed count as one failure toward the disable.
//   - A disabled webhook stops at once: once its disable is recorded, no
//     POST of it starts; only those already on the wire may finish.
package deliver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
)

// Config tunes the dispatcher; zero values take the defaults.
type Config struct {
	Store   store.Store
	BaseURL string // for chat_url
	Logger  *slog.Logger

	Timeout time.Duration // one attempt, connect to last byte: 15s
	// Workers is how many POSTs are in flight at once, all endpoints
	// together: 256. PerEndpoint is the most of one endpoint: 64, what
	// one busy endpoint needs to keep a fast receiver busy. Endpoints
	// with slow receivers hold at most Workers less a quarter together,
	// so the others never wait behind them (see lanes.go).
	Workers     int
	PerEndpoint int
	BatchSize   int           // deliveries claimed at once: 1024 (see Run)
	Lease       time.Duration // a claim's life, renewed while held: 60s
	Poll        time.Duration // look for due retries this often: 1s
	Grace       time.Duration // on shutdown, for POSTs in flight: 10s
	// Gather is how long the first outcome of a batch waits for others
	// before they are recorded together: 5ms. One transaction of many
	// outcomes costs the database far less than many of one.
	Gather              time.Duration
	Schedule            []time.Duration
	AllowPrivateTargets bool
	Now                 func() time.Time
	// Recorded, when set, is told of each attempt once the store has
	// recorded its outcome (for metrics: an attempt whose record failed
	// is made again, and told of then). It runs on the finisher, so it
	// must be quick and never block.
	Recorded func(Recorded)
}

// Recorded is an attempt whose outcome the store recorded.
type Recorded struct {
	store.Finished
	Kind string // chathook.KindMessage or chathook.KindBundle
	// Ready is when what the delivery carries was ready to go: the
	// message's ingest, or the end of the bundle's window (which a flush
	// asked for early may not have reached yet).
	Ready time.Time
}

// Dispatcher delivers a store's pending deliveries.
type Dispatcher struct {
	cfg     Config
	targets *targets
	owner   string
	kick    chan struct{}

	mu        sync.Mutex
	held      map[int64]struct{} // claimed and not yet finished or released
	lanes     map[int64]*lane    // by endpoint (Key); see lanes.go
	ring      []*lane            // the lanes with runs waiting, in turn order
	next      int                // the ring's next turn
	queued    int                // deliveries waiting in lanes
	inFlight  int                // runs in flight
	slowBusy  int                // runs in flight of slow lanes
	slowLanes int                // lanes that are slow
	slowCap   int                // the most slowBusy may reach: Workers less a quarter
	memo      map[int64]memo     // idle lanes' speeds and windows, by endpoint
	paused    map[int64]struct{} // the endpoints whose lanes are paused (see pauseLocked)
	// windowKept is how long an idle lane's window is remembered:
	// the constant windowKept, which tests may shorten.
	windowKept time.Duration
	// memoPruned is when the full memo was last walked for old entries.
	memoPruned time.Time
	stopping   bool // Run is ending: start nothing more

	receiving atomic.Bool // the store hands over new deliveries (see Ingested)

	postCtx context.Context // the POSTs' context, cancelled Grace after Run's
	runCtx  context.Context // Run's context: no new POST once it is done
	results chan result     // to the finisher
	freed   chan struct{}   // a slot became free
	workers sync.WaitGroup

	dead     chan struct{} // closed by Kill
	killOnce sync.Once
}

// New returns a dispatcher; Run starts it.
func New(cfg Config) *Dispatcher {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 15*time.Second)
	def(&cfg.Lease, 60*time.Second)
	def(&cfg.Poll, time.Second)
	def(&cfg.Grace, 10*time.Second)
	def(&cfg.Gather, 5*time.Millisecond)
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 64
	}
	cfg.PerEndpoint = min(cfg.PerEndpoint, cfg.Workers)
	if cfg.BatchSize <= 0 {
		// A claim costs a walk past the chats in flight and a transaction
		// however much it takes: 1024 rather than 512 made batches about
		// 5% faster and their p99 a quarter lower, while maxQueuedRuns
		// keeps what waits in memory at 2048 deliveries, as before.
		cfg.BatchSize = 1024
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Schedule
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, _ := os.Hostname()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return &Dispatcher{
		cfg:        cfg,
		targets:    newTargets(newClient(cfg.PerEndpoint, cfg.AllowPrivateTargets), cfg.Timeout, cfg.AllowPrivateTargets),
		owner:      host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(suffix),
		kick:       make(chan struct{}, 1),
		held:       map[int64]struct{}{},
		lanes:      map[int64]*lane{},
		memo:       map[int64]memo{},
		paused:     map[int64]struct{}{},
		windowKept: windowKept,
		// The quarter kept from slow lanes: a slot for a fast receiver is
		// free whenever its attempts, quick to end, leave one.
		slowCap: max(1, cfg.Workers-cfg.Workers/4),
		freed:   make(chan struct{}, 1),
		dead:    make(chan struct{}),
	}
}

// Owner is the name this dispatcher's leases carry in the store: host,
// process id and a random suffix, unique per instance.
func (d *Dispatcher) Owner() string { return d.owner }

// Kill stops the dispatcher as a crash would, for tests of what the other
// instances do with its work: Run returns at once, POSTs in flight are cut
// off, and nothing more is written to the store, so its claims are neither
// finished, released nor renewed: they wait for their leases to expire.
// (A store call already under way completes, as it might before a crash.)
func (d *Dispatcher) Kill() { d.killOnce.Do(func() { close(d.dead) }) }

func (d *Dispatcher) killed() bool {
	select {
	case <-d.dead:
		return true
	default:
		return false
	}
}

// Ingested tells the dispatcher that ingested messages were queued for
// delivery. While the store hands it new deliveries as it stores them
// (store.HandOff), a claim now would find nothing: each delivery not
// handed over waits behind one of its chat, or for room in its
// endpoint's lane, or for its webhook to be enabled, and whatever ends
// that wait wakes the dispatcher (an outcome recorded, a retry due, a
// release, a setting saved). Otherwise it is Kick.
func (d *Dispatcher) Ingested() {
	if !d.receiving.Load() {
		d.Kick()
	}
}

// Kick tells the dispatcher that deliveries may be due now. It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then shuts down as the package doc says.
func (d *Dispatcher) Run(ctx context.Context) error {
	// POSTs run on their own context: cancelled Grace after ctx, not at once.
	postCtx, cancelPosts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPosts()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(d.cfg.Grace, cancelPosts) })
	defer stop()
	// A Send that does not heed its context (a write to a broker that
	// stopped reading) ends when its target closes: at Grace too, so
	// nothing blocked outlives it and workers.Wait below returns.
	closeTargets := context.AfterFunc(postCtx, d.targets.closeAll)
	defer closeTargets()
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case <-d.dead: // no grace: dead is closed first, so nothing below records what the cut-off POSTs return
			cancelRun()
			cancelPosts()
		case <-ctx.Done():
		}
	}()

	d.runCtx, d.postCtx = ctx, postCtx
	d.results = make(chan result, d.cfg.BatchSize)
	finished := make(chan struct{})
	go func() { d.finisher(d.results); close(finished) }()
	renewDone := make(chan struct{})
	go func() { d.renew(ctx); close(renewDone) }()
	if h, ok := d.cfg.Store.(store.HandOff); ok {
		stop := h.HandTo(store.Receiver{Owner: d.owner, Lease: d.cfg.Lease, Room: d.room, Take: d.take})
		d.receiving.Store(true)
		defer func() { d.receiving.Store(false); stop() }()
	}

	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	pause := time.NewTimer(0)
	defer pause.Stop()
	var emptySkip time.Time // when a claim passing over full workspaces last found nothing
	for ctx.Err() == nil {
		// A freed slot matters only while runs wait for one; otherwise a
		// claim waits for a kick (an outcome recorded, a message queued),
		// as every claim is a write the store's other writers wait for.
		var freed chan struct{}
		var paused <-chan time.Time
		if skip, ok := d.claimable(); !ok {
			freed = d.freed
		} else if wait := skipPause - time.Since(emptySkip); len(skip) > 0 && wait > 0 {
			// Every waiting endpoint is full and the last claim for the
			// others found nothing: claiming again at every kick would be
			// an empty write transaction per outcome recorded.
			freed = d.freed
			pause.Reset(wait)
			paused = pause.C
		} else {
			began := time.Now()
			claimed, err := d.cfg.Store.ClaimDue(ctx, d.owner, d.cfg.Now(), d.cfg.Lease, d.cfg.BatchSize, skip...)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("claim deliveries", "err", err)
			}
			if len(skip) > 0 && len(claimed) == 0 {
				emptySkip = time.Now()
			}
			d.enqueue(claimed, began)
			if len(claimed) == d.cfg.BatchSize {
				continue // there may be more due right now
			}
		}
		select {
		case <-ctx.Done():
		case <-d.kick:
		case <-freed:
		case <-paused:
		case <-poll.C:
		}
	}
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	d.dispatch() // releases every run that waits
	d.workers.Wait()
	d.targets.closeAll()
	close(d.results)
	<-finished
	<-renewDone
	return nil
}

// room is how many lanes' new deliveries of an endpoint the store may
// hand this dispatcher as it stores them (see store.HandOff): up to
// PerEndpoint runs waiting in its lane, beside those in flight (so a
// silent receiver holds at most that many more in memory); none while
// stopping, while the lane is gated or paused, or while as much waits as claimable
// allows. (The store hands only deliveries of enabled webhooks, and
// enqueue drops those a disable learned since overtakes.) What it does
// not take waits for a claim.
func (d *Dispatcher) room(ep int64) int {
	if d.killed() {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping || d.queued >= maxQueuedRuns*d.cfg.BatchSize {
		return 0
	}
	l := d.lanes[ep]
	if l == nil {
		return d.cfg.PerEndpoint
	}
	if l.unrecorded > 0 || l.paused { // a paused lane holds nothing (see pauseLocked)
		return 0
	}
	return max(0, d.cfg.PerEndpoint-len(l.runs))
}

// take is given the deliveries the store leased to this dispatcher as
// it stored them, as a claim that began at began would be. After a Kill
// it keeps them as a crash would: leased, until the leases expire.
func (d *Dispatcher) take(leased []chathook.Delivery, began time.Time) {
	if d.killed() {
		return
	}
	d.enqueue(leased, began)
}

// skipPause is the least time between claims that pass over full
// endpoints and find nothing: a lone busy endpoint at its cap costs at
// most one such claim per skipPause, and another endpoint's new work
// waits at most that much longer than it would otherwise.
const skipPause = 100 * time.Millisecond

// result is an attempt's outcome on its way to the finisher.
type result struct {
	store.Finished
	ep    int64
	kind  string
	ready time.Time // see Recorded.Ready
}

// byChat splits claimed deliveries (in id order) into one run per chat,
// keeping the order within each run.
func byChat(claimed []chathook.Delivery) [][]chathook.Delivery {
	var runs [][]chathook.Delivery
	index := map[int64]int{}
	for _, del := range claimed {
		i, ok := index[del.Lane]
		if !ok {
			i = len(runs)
			index[del.Lane] = i
			runs = append(runs, nil)
		}
		runs[i] = append(runs[i], del)
	}
	return runs
}

// deliverRun POSTs one chat's deliveries in order, in a slot of its
// endpoint. After a failure, or once Run is stopping, the rest of the run
// is released untried; while a failure of the endpoint waits to be
// recorded, the lane is paused, disabled (whose runs dispatch releases),
// or holds more than its window or its slow share allows, the rest waits
// in the lane. A failure is Overlapped when another of its endpoint was
// seen while it was under way (see outcome).
func (d *Dispatcher) deliverRun(r run) {
	ended := false // by goOn, which freed the slot
	defer func() {
		if !ended {
			d.done(r.ep)
		}
	}()
	d.fresh(r)
	for i, del := range r.dels {
		if d.runCtx.Err() != nil {
			d.release(r.dels[i:])
			return
		}
		epoch, ok := d.goOn(r, r.dels[i:])
		if !ok {
			// Gated, paused, disabled, beyond the window or the slow
			// lanes' share: the rest waits in the lane, and dispatch decides.
			ended = true
			return
		}
		out := d.attempt(d.postCtx, del)
		f := store.Finished{Outcome: out}
		counted := d.outcome(r.ep, epoch, out.OK(), out.Duration)
		if !out.OK() {
			f.RetryAt = retryAt(out.At, del.Attempts+1, d.cfg.Schedule)
			f.Overlapped = !counted
			d.cfg.Logger.Info("delivery failed", "webhook_id", del.EventID, "delivery", del.ID, "chat", del.Chat.ID,
				"attempt", del.Attempts+1, "err", out.Err, "retry_at", f.RetryAt, "overlapped", f.Overlapped)
		}
		ready := del.Message.ReceivedAt
		if del.Kind == chathook.KindBundle {
			ready = del.Bundle.WindowEnd
		}
		d.results <- result{Finished: f, ep: r.ep, kind: del.Kind, ready: ready}
		if !out.OK() {
			d.release(r.dels[i+1:])
			return
		}
	}
}

// attempt makes one signed attempt at a delivery, through its target.
func (d *Dispatcher) attempt(ctx context.Context, del chathook.Delivery) chathook.Outcome {
	body, err := d.render(ctx, del)
	if err != nil {
		return chathook.Outcome{DeliveryID: del.ID, URL: chathook.RedactURL(del.Webhook.URL), At: d.cfg.Now(),
			Err: "could not read the bundle's messages: " + err.Error()}
	}
	out := d.send(ctx, del.Webhook, del.EventID, EventType(del), body)
	out.DeliveryID = del.ID
	return out
}

// send signs body with the endpoint's secrets and sends it through the
// target of its URL, with the headers every chathook delivery carries
// (SPEC 4), and describes the outcome. Outcome.URL is the URL as it may
// be shown: a broker's password redacted.
func (d *Dispatcher) send(ctx context.Context, wh chathook.Webhook, eventID, typ string, body []byte) chathook.Outcome {
	start := d.cfg.Now()
	began := time.Now() // the duration is real time, whatever the clock says
	m := Message{Webhook: wh, EventID: eventID, Type: typ, Timestamp: start, Body: body}
	out := d.sign(&m)
	if out.Err == "" {
		ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		out = d.targets.get(wh).Send(ctx, m)
		cancel()
	}
	out.URL, out.At, out.Duration = chathook.RedactURL(wh.URL), start, time.Since(began)
	return out
}

// sign sets m's signature: while a rotation's previous secret is valid it
// signs too, after the new one, so that receivers switch keys without a
// failed delivery.
func (d *Dispatcher) sign(m *Message) (out chathook.Outcome) {
	var keys [][]byte
	for _, secret := range m.Webhook.SigningSecrets(m.Timestamp) {
		key, err := payload.ParseSecret(secret)
		if err != nil {
			out.Err = "signing secret unusable: " + err.Error()
			return out
		}
		keys = append(keys, key)
	}
	m.Signature = payload.Signatures(keys, m.EventID, m.Timestamp.Unix(), m.Body)
	return out
}

// render returns the body of a delivery: one message (SPEC 4.1) or a
// bundle (SPEC 4.2), whose messages are read now rather than at claim
// time, so a claim of 1024 bundles never holds 1024 bundles' messages.
func (d *Dispatcher) render(ctx context.Context, del chathook.Delivery) ([]byte, error) {
	switch del.Kind {
	case chathook.KindEvent:
		if del.Data != nil {
			var c *chathook.Chat // an account's event has none
			if del.Chat.ID != 0 {
				c = &del.Chat
			}
			return payload.Fixed(d.cfg.BaseURL, del.Type, del.EventID, del.CreatedAt, del.Webhook.WorkspaceID, c, del.Data), nil
		}
		return payload.Event(d.cfg.BaseURL, del.Type, del.EventID, del.CreatedAt, d.cfg.Now(), del.Account, del.Chat, del.Message), nil
	case chathook.KindMessage:
		return payload.Single(d.cfg.BaseURL, del.Account, del.Chat, del.Message), nil
	}
	msgs, err := d.cfg.Store.BundleMessages(ctx, del.ID)
	if err == nil && len(msgs) == 0 {
		err = errors.New("none found")
	}
	if err != nil {
		return nil, err
	}
	del.Bundle.Messages = msgs
	return payload.Bundle(d.cfg.BaseURL, del.Account, del.Chat, del.Bundle), nil
}

// finisher records outcomes in batches: one transaction for everything
// that arrives within Gather of a batch's first outcome, up to BatchSize.
// Then it reads back the webhooks of the failures, which opens their
// endpoints' gates, or stops them if one was disabled (see lanes.go).
func (d *Dispatcher) finisher(results <-chan result) {
	batch := make([]store.Finished, 0, cap(results))
	rs := make([]result, 0, cap(results)) // batch's results, for Recorded
	failures := map[int64]int{}
	add := func(r result) {
		batch = append(batch, r.Finished)
		rs = append(rs, r)
		if !r.OK() {
			failures[r.ep]++
		}
	}
	gather := time.NewTimer(d.cfg.Gather)
	for r := range results {
		batch, rs = batch[:0], rs[:0]
		clear(failures)
		add(r)
		gather.Reset(d.cfg.Gather)
	collect:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-results:
				if !ok {
					break collect
				}
				add(r)
			case <-gather.C:
				break collect
			}
		}
		if d.killed() { // a crash records nothing more
			d.unhold(batch)
			continue
		}
		// A fresh context: outcomes of POSTs that were made must be
		// recorded even while shutting down.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := d.cfg.Store.Finish(ctx, batch)
		cancel()
		if err != nil {
			// The leases stay; the deliveries go out again when they expire.
			d.cfg.Logger.Error("record delivery outcomes", "deliveries", len(batch), "err", err)
		} else if d.cfg.Recorded != nil {
			for _, r := range rs {
				d.cfg.Recorded(Recorded{Finished: r.Finished, Kind: r.kind, Ready: r.ready})
			}
		}
		d.recorded(failures, time.Now())
		d.unhold(batch)
		d.Kick() // the next deliveries of these chats may be claimable now
		for _, f := range batch {
			// A retry due before the next poll is woken for on time.
			if wait := f.RetryAt.Sub(d.cfg.Now()); !f.RetryAt.IsZero() && wait < d.cfg.Poll {
				time.AfterFunc(wait, d.Kick)
			}
		}
	}
}

func (d *Dispatcher) hold(dels []chathook.Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, del := range dels {
		d.held[del.ID] = struct{}{}
	}
}

func (d *Dispatcher) unhold(done []store.Finished) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range done {
		delete(d.held, f.DeliveryID)
	}
}

// release gives back claims that were not attempted.
func (d *Dispatcher) release(dels []chathook.Delivery) {
	if len(dels) == 0 || d.killed() {
		return
	}
	ids := make([]int64, len(dels))
	d.mu.Lock()
	for i, del := range dels {
		ids[i] = del.ID
		delete(d.held, del.ID)
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.cfg.Store.Release(ctx, d.owner, ids); err != nil {
		d.cfg.Logger.Error("release deliveries", "deliveries", len(ids), "err", err)
	}
}

// renew keeps the leases of held deliveries alive, so a long run of one
// chat, or a slow receiver, never lets another dispatcher take them.
func (d *Dispatcher) renew(ctx context.Context) {
	t := time.NewTicker(d.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.killed() {
			return
		}
		d.targets.reap(time.Now().Add(-idleTarget))
		d.mu.Lock()
		ids := make([]int64, 0, len(d.held))
		for id := range d.held {
			ids = append(ids, id)
		}
		d.mu.Unlock()
		if err := d.cfg.Store.ExtendLeases(ctx, d.owner, ids, d.cfg.Now().Add(d.cfg.Lease)); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("renew leases", "deliveries", len(ids), "err", err)
		}
	}
}
