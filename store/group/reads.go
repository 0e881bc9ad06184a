package group

import (
	"context"
)

// MaxKeys is how many keys one batched read asks for at most.
const MaxKeys = 256

// Reads is Ingester's counterpart for a read every request makes (its
// API token): lookups that arrive while a read is running wait for it,
// then go together into the next one, one query for all of them. A lone
// lookup is read at once. Each lookup is answered by a read that began
// after it arrived, so it sees every write committed before it was made:
// a token revoked before a request is refused, as with a read of its own.
type Reads[K comparable, V any] struct {
	read func(ctx context.Context, keys []K) (map[K]V, error)
	door door[*lookup[K, V]]
}

type lookup[K comparable, V any] struct {
	ctx  context.Context
	key  K
	done chan found[V] // buffered
}

type found[V any] struct {
	v   V
	ok  bool
	err error
}

// NewReads starts workers goroutines, each making one read at a time.
// read returns the value of each key it found; a key it did not find is
// answered not found.
func NewReads[K comparable, V any](read func(ctx context.Context, keys []K) (map[K]V, error), workers int) *Reads[K, V] {
	r := &Reads[K, V]{read: read}
	r.door.open(workers, MaxKeys, func(*lookup[K, V]) int { return 1 }, r.readBatch)
	return r
}

// Get returns key's value, and whether it was found.
func (r *Reads[K, V]) Get(ctx context.Context, key K) (V, bool, error) {
	var zero V
	c := &lookup[K, V]{ctx: ctx, key: key, done: make(chan found[V], 1)}
	if err := r.door.enter(ctx, c); err != nil {
		return zero, false, err
	}
	select {
	case f := <-c.done:
		return f.v, f.ok, f.err
	case <-ctx.Done():
		return zero, false, ctx.Err()
	}
}

// Close waits for the reads being made and refuses lookups from then on.
func (r *Reads[K, V]) Close() { r.door.close() }

// readBatch reads the keys of lookups made together, each once, and
// answers every lookup.
func (r *Reads[K, V]) readBatch(batch []*lookup[K, V]) {
	keys := make([]K, 0, len(batch))
	seen := make(map[K]bool, len(batch))
	for _, c := range batch {
		if !seen[c.key] {
			seen[c.key] = true
			keys = append(keys, c.key)
		}
	}
	// Not the first caller's context: the others wait for this read.
	values, err := r.read(context.Background(), keys)
	for _, c := range batch {
		v, ok := values[c.key]
		c.done <- found[V]{v: v, ok: ok, err: err}
	}
}
