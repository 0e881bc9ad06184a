package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's Chromium (package chromium) through
// the DevTools protocol against the whole service, started in-process.
// CHATHOOK_CHROMIUM names another binary. Without one the tests skip,
// except in CI (CI=true), where they fail: there they must run.
//
// CHATHOOK_SCREENSHOTS=<dir> also writes screenshots of the main pages
// there (docs/ in the repository: see README.md).

var chrome struct {
	once sync.Once
	ctx  context.Context // the running browser; tabs are its children
	err  error
	stop func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.stop != nil {
		chrome.stop()
	}
	os.Exit(code)
}

func chromiumPath(t *testing.T) string {
	path := os.Getenv("CHATHOOK_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (%v): install Debian's chromium (apt-get install -y chromium) or set CHATHOOK_CHROMIUM", path, err)
		if os.Getenv("CI") == "true" {
			t.Fatal("browser tests must run in CI: " + msg)
		}
		t.Skip("browser tests skipped: " + msg)
	}
	return path
}

func startBrowser(path string) {
	dir, err := os.MkdirTemp("", "chathook-chromium-")
	if err != nil {
		chrome.err = err
		return
	}
	// The flags this sandbox needs (run as root, no network beyond the
	// loopback) and a fresh profile.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	chrome.stop = func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	chrome.ctx = ctx
	chrome.err = chromedp.Do(ctx) // starts Chromium, for every test to share
}

// tab opens a tab in a browser context of its own (its own cookies) and
// returns it with a deadline for the whole test.
func tab(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	chrome.once.Do(func() { startBrowser(path) })
	if chrome.err != nil {
		t.Fatalf("start Chromium %s: %v", path, chrome.err)
	}
	ctx, cancel := chromedp.NewContext(chrome.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(tcancel)
	return tctx
}

// do runs browser actions, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		page := run(t, ctx, "read the page", chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, page)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	do(t, ctx, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return run(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "read the location", chromedp.Location())
}

// acceptDialogs answers every confirm() of the tab with OK.
func acceptDialogs(ctx context.Context) {
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
}

// clear empties a text field, as selecting all and deleting would.
func clear(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.getElementById(%q).value = ''", id))
}

// signIn fills the sign-in form the visitor was sent to, or opens it.
func signIn(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	if !strings.Contains(location(t, ctx), "/signin") {
		do(t, ctx, "open sign-in", chromedp.Navigate(base+"/signin"))
	}
	do(t, ctx, "sign in",
		chromedp.WaitVisible(chromedp.ID("email")),
		clear("email"),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("sign-in")),
	)
}

const browserPassword = "correct horse battery"

// service starts chathook with quick retries and a quick activity log,
// and a workspace whose owner can sign in.
func service(t *testing.T) (*chathooktest.Service, *chathooktest.Workspace) {
	t.Helper()
	sched := make([]time.Duration, 30)
	for i := range sched {
		sched[i] = 5 * time.Millisecond
	}
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{
		RetrySchedule: sched, ActivityRefresh: 200 * time.Millisecond,
	}})
	ws := svc.NewWorkspace(t, "acme")
	ws.AddUser(t, "owner@acme.example", "Olga Owner", browserPassword)
	return svc, ws
}

// screenshot writes the tab's page to $CHATHOOK_SCREENSHOTS/<name>.png
// when that is set, at the given viewport width.
func screenshot(t *testing.T, ctx context.Context, name string, width, height int64, full bool) {
	t.Helper()
	dir := os.Getenv("CHATHOOK_SCREENSHOTS")
	if dir == "" {
		return
	}
	do(t, ctx, "resize for "+name, chromedp.EmulateViewport(width, height))
	var shot chromedp.Action[[]byte] = chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png := run(t, ctx, "screenshot "+name, shot)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "restore the viewport", chromedp.EmulateViewport(1280, 800))
}
