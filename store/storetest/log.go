package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// testAttemptsPageByAtThenID: the detailed log reads in pages keyed on
// (at, id), and a walk through it in pages of any size returns every row
// of the workspace once, in (at, id) order, however many rows share an
// at and wherever a page ends among them; since and after combine.
func testAttemptsPageByAtThenID(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	other := workspace(t, st, "other", "https://other.example.com")
	n := store.LogPage + 3 // EachAttempt needs a second page
	msgs := make([]chathook.Incoming, n)
	for i := range msgs {
		msgs[i] = msg(i, 1)
	}
	ingest(t, st, ws, msgs...)
	ingest(t, st, other, msg(1, 1), msg(2, 1), msg(3, 1))
	var outs []store.Finished
	mine := map[int64]time.Time{}
	for {
		got := claim(t, st, "a", t0, 1000)
		if len(got) == 0 {
			break
		}
		for _, d := range got {
			// Five instants, each shared by about a fifth of the rows, and
			// handed out so that ids are not in at order.
			at := t0.Add(time.Duration((len(outs)*37)%5) * time.Second)
			if d.Webhook.WorkspaceID == ws {
				mine[d.ID] = at
			}
			outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: d.Webhook.URL, At: at, Status: 200}})
		}
	}
	if len(mine) != n || len(outs) != n+3 {
		t.Fatalf("claimed %d of the workspace's %d and %d in all", len(mine), n, len(outs))
	}
	if err := st.Finish(ctx, outs); err != nil {
		t.Fatal(err)
	}

	walk := func(since time.Time, limit int) []chathook.Attempt {
		t.Helper()
		var all []chathook.Attempt
		var after store.Position
		for {
			page, err := st.Attempts(ctx, ws, chathook.Outbound, since, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("a page of %d rows, limit %d", len(page), limit)
			}
			all = append(all, page...)
			if len(page) < limit {
				return all
			}
			after = store.Position{At: page[len(page)-1].At, ID: page[len(page)-1].ID}
		}
	}
	all := walk(time.Time{}, 7)
	if len(all) != n {
		t.Fatalf("%d rows in pages of 7, want %d", len(all), n)
	}
	seen := map[int64]bool{}
	for i, a := range all {
		want, ok := mine[a.DeliveryID]
		switch {
		case !ok:
			t.Fatalf("row %d is delivery %d, not the workspace's", i, a.DeliveryID)
		case seen[a.DeliveryID]:
			t.Fatalf("row %d: delivery %d a second time", i, a.DeliveryID)
		case !a.At.Equal(want) || a.ID == 0:
			t.Fatalf("row %d: at %v id %d, want at %v and an id", i, a.At, a.ID, want)
		case i > 0 && (a.At.Before(all[i-1].At) || a.At.Equal(all[i-1].At) && a.ID <= all[i-1].ID):
			t.Fatalf("row %d (%v, %d) is not after row %d (%v, %d)", i, a.At, a.ID, i-1, all[i-1].At, all[i-1].ID)
		}
		seen[a.DeliveryID] = true
	}
	if one := walk(time.Time{}, n+10); !sameRows(one, all) {
		t.Errorf("one page of %d rows differs from pages of 7", len(one))
	}
	var each []chathook.Attempt
	if err := store.EachAttempt(ctx, st, ws, chathook.Outbound, time.Time{}, func(a chathook.Attempt) error {
		each = append(each, a)
		return nil
	}); err != nil || !sameRows(each, all) {
		t.Errorf("EachAttempt: %d rows (%v), want the %d of the pages", len(each), err, len(all))
	}

	since := t0.Add(2 * time.Second)
	first := 0
	for first < n && all[first].At.Before(since) {
		first++
	}
	if got := walk(since, 3); !sameRows(got, all[first:]) {
		t.Errorf("since %v in pages of 3: %d rows, want the last %d", since, len(got), n-first)
	}
	// An after before since reads from since; one after it, from after.
	early := store.Position{At: all[0].At, ID: all[0].ID}
	if got, err := st.Attempts(ctx, ws, chathook.Outbound, since, early, 4); err != nil || !sameRows(got, all[first:first+4]) {
		t.Errorf("since with an earlier after: %d rows (%v)", len(got), err)
	}
	mid := store.Position{At: all[first+1].At, ID: all[first+1].ID}
	if got, err := st.Attempts(ctx, ws, chathook.Outbound, since, mid, 4); err != nil || !sameRows(got, all[first+2:first+6]) {
		t.Errorf("since with a later after: %d rows (%v)", len(got), err)
	}
}

func sameRows(a, b []chathook.Attempt) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || !a[i].At.Equal(b[i].At) || a[i].DeliveryID != b[i].DeliveryID {
			return false
		}
	}
	return true
}
