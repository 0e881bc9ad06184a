package group

import (
	"context"
	"sync"
	"sync/atomic"
)

// door is where calls wait for a worker, for Ingester and Reads alike. It
// is unbuffered: a call is handed over only when a worker takes it, so no
// call waits in a queue that Close could leave behind.
type door[T any] struct {
	in      chan T
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	waiting atomic.Int64 // calls not yet taken by a worker
}

// open starts workers goroutines. Each takes the next call, then every
// call waiting at that moment (it never waits for more) while what it
// holds weighs less than max, and hands them to handle.
func (d *door[T]) open(workers, max int, weight func(T) int, handle func([]T)) {
	d.in, d.stop = make(chan T), make(chan struct{})
	d.wg.Add(workers)
	for range workers {
		go func() {
			defer d.wg.Done()
			for {
				var first T
				select {
				case first = <-d.in:
				case <-d.stop:
					return
				}
				held, n := []T{first}, weight(first)
			gather:
				for n < max {
					select {
					case c := <-d.in:
						held, n = append(held, c), n+weight(c)
					default:
						break gather
					}
				}
				handle(held)
			}
		}()
	}
}

// enter returns once a worker has taken c, or with ctx's error, or
// ErrClosed after close.
func (d *door[T]) enter(ctx context.Context, c T) error {
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	select {
	case d.in <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stop:
		return ErrClosed
	}
}

// close waits for what the workers hold and refuses calls from then on.
func (d *door[T]) close() {
	d.once.Do(func() { close(d.stop) })
	d.wg.Wait()
}
