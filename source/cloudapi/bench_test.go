package cloudapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/cloudapi"
)

// BenchmarkSignedPOST is Meta's webhook as Meta calls it: one text
// message per signed POST, from as many clients at once as
// GOMAXPROCS×4 (b.RunParallel), through the real endpoint to a sink, on
// SQLite. Each op is one POST answered 200 once its message is committed;
// delivered/s counts the messages the sink received by the end.
//
//	go test -run '^$' -bench SignedPOST -benchtime 5000x ./source/cloudapi/
func BenchmarkSignedPOST(b *testing.B) {
	svc := chathooktest.Start(b, chathooktest.Options{DB: "sqlite:" + filepath.Join(b.TempDir(), "chathook.db"),
		Config: app.Config{Logger: slog.New(slog.DiscardHandler)}})
	ws := svc.NewWorkspace(b, "acme")
	sink := chathooktest.NewSink(b)
	ws.PointAt(b, sink.URL+"/hook")
	if _, err := cloudapi.Register(context.Background(), svc.Store, ws.WorkspaceID, shopOne, time.Now()); err != nil {
		b.Fatal(err)
	}
	url := svc.URL + "/sources/cloud-api/" + ws.WorkspaceID
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages",`+
				`"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},`+
				`"contacts":[{"profile":{"name":"Customer %[1]d"},"wa_id":"1650555%04[1]d"}],`+
				`"messages":[{"from":"1650555%04[1]d","id":"wamid.bench%[2]d","timestamp":"%[3]d","type":"text","text":{"body":"message %[2]d"}}]}}]}]}`,
				i%1000, i, time.Now().Unix())
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("X-Hub-Signature-256", metaSignature(appOne, body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("POST: %d", resp.StatusCode)
			}
		}
	})
	sink.WaitFor(b, int(n.Load()), time.Minute)
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "delivered/s")
}
