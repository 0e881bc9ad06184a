package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// BenchmarkDeliveryCycle measures the writer's work per message, phase by
// phase, for b.N messages over 1,000 chats: ingest in batches of 1000,
// claim in batches of 512, finish in batches of 256 (what the dispatcher
// does). The writer is the one resource every phase shares, so its time
// per message bounds the end-to-end rate.
func BenchmarkDeliveryCycle(b *testing.B) {
	ctx := context.Background()
	st := open(b, filepath.Join(b.TempDir(), "chathook.db"))
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ws := uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "bench", OwnerEmail: "o@example.com", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		b.Fatal(err)
	}
	url := "https://hook.example.com"
	if _, err := st.UpdateWebhook(ctx, ws, t0, chathook.WebhookUpdate{URL: &url}); err != nil {
		b.Fatal(err)
	}
	msgs := make([]chathook.Incoming, b.N)
	for i := range msgs {
		msgs[i] = chathook.Incoming{
			Account:   chathook.Account{Phone: "+15550000000"},
			Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555%07d", i%1000)},
			MessageID: fmt.Sprintf("m%d", i), UUID: uuid.Must(uuid.NewV7()).String(), Direction: chathook.Received, Timestamp: t0,
			Text: fmt.Sprintf("hello, this is message %d", i),
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(msgs); i += 1000 {
		if _, err := st.Ingest(ctx, ws, t0, msgs[i:min(i+1000, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	ingest := time.Since(start)
	var claiming, finishing time.Duration
	for done := 0; done < b.N; {
		t := time.Now()
		got, err := st.ClaimDue(ctx, "bench", t0, time.Minute, 512)
		claiming += time.Since(t)
		if err != nil || len(got) == 0 {
			b.Fatalf("claimed %d (%v) with %d of %d done", len(got), err, done, b.N)
		}
		for i := 0; i < len(got); i += 256 {
			var outs []store.Finished
			for _, d := range got[i:min(i+256, len(got))] {
				outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: url, At: t0, Status: 204, Duration: time.Millisecond}})
			}
			t = time.Now()
			if err := st.Finish(ctx, outs); err != nil {
				b.Fatal(err)
			}
			finishing += time.Since(t)
		}
		done += len(got)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(ingest), "ingest-µs/msg")
	b.ReportMetric(per(claiming), "claim-µs/msg")
	b.ReportMetric(per(finishing), "finish-µs/msg")
	b.ReportMetric(float64(b.N)/(ingest+claiming+finishing).Seconds(), "writer-msgs/s")
}
