package app

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// BenchmarkConnCap is the cap's cost per request: keep-alive requests to
// a trivial handler, through the capped listener and its ConnState hook
// (two state changes a request) or through neither.
func BenchmarkConnCap(b *testing.B) {
	for _, capped := range []bool{false, true} {
		name := "uncapped"
		if capped {
			name = "capped"
		}
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ok")
			})}
			served := ln
			if capped {
				l := newConnLimit(1000)
				srv.ConnState = l.connState
				served = l.listener(ln)
			}
			go func() { _ = srv.Serve(served) }()
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			url := "http://" + ln.Addr().String() + "/"
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
