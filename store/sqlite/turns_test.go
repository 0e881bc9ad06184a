package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"
)

// returnedWithin is whether wait, whose result done carries, returns
// within d: a wait that should still block is given a moment, one that
// should return is given long.
func returnedWithin(done <-chan error, d time.Duration) bool {
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

const moment, long = 20 * time.Millisecond, 5 * time.Second

// A group waits for the bookkeeping that had asked for the writer when it
// came, and not for bookkeeping that asks after it.
func TestTurnsWaitForEarlierBookkeepingOnly(t *testing.T) {
	ctx := context.Background()
	tu := newTurns()
	if err := tu.wait(ctx); err != nil {
		t.Fatalf("with nothing asked, wait: %v", err)
	}
	first, second := tu.ask(), tu.ask()
	done := make(chan error, 1)
	go func() { done <- tu.wait(ctx) }()
	if returnedWithin(done, moment) {
		t.Fatal("a group went before two claims that asked first")
	}
	first()
	if returnedWithin(done, moment) {
		t.Fatal("a group went before the second claim that asked first")
	}
	later := tu.ask()
	second()
	if !returnedWithin(done, long) {
		t.Fatal("a group still waits once the claims that came before it have the writer")
	}
	// A group that comes now waits for the later claim, until its
	// context ends; once that claim has the writer, nothing holds one.
	cancelled, cancel := context.WithCancel(ctx)
	go func() { done <- tu.wait(cancelled) }()
	if returnedWithin(done, moment) {
		t.Fatal("a group went before a claim that asked first")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a group whose context ended: %v", err)
		}
	case <-time.After(long):
		t.Fatal("a group waits on after its context ended")
	}
	later()
	if err := tu.wait(ctx); err != nil {
		t.Fatalf("with every claim seated, wait: %v", err)
	}
}
