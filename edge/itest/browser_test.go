package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const chromiumPath = "/usr/bin/chromium"

// browserMsg is one rendered chat message (.msg element) of the demo page.
type browserMsg struct {
	Seq    uint64 `json:"seq"`
	Sender string `json:"sender"`
	Text   string `json:"text"`
}

// demoTab is one tab of the demo page, logged in as user.
type demoTab struct {
	t      *testing.T
	user   string
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	console []string
	done    chan struct{}
}

// TestBrowserDemo drives the dev demo page in headless Chromium: two users
// chat in a DM and post danmaku, then the edge is drained and replaced by a
// new process on the same address and data; alice's page must reconnect
// and show the messages it missed, in order, with no gap or duplicate.
func TestBrowserDemo(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not found (%v): run `make deps` to install Chromium", chromiumPath, err)
	}
	shots := screenshotDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	addr, data := freePort(t), t.TempDir()
	edge := startEdge(t, addr, data, "--dev")
	base := "http://" + addr

	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	defer allocCancel()
	browserCtx, browserCancel := chromedp.NewContext(allocCtx)
	defer func() {
		_ = chromedp.Cancel(browserCtx) // closes the browser gracefully
		browserCancel()
	}()
	// Start the browser now so that the tabs below are its children.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}

	conv := "dm:alice:bob"
	alice := openDemo(t, browserCtx, base, "alice", "bob")
	defer alice.close()
	bob := openDemo(t, browserCtx, base, "bob", "alice")
	defer bob.close()
	alice.waitReady()
	bob.waitReady()

	// Chat: alice sends 3 (two through the UI), bob replies 2 (one through
	// the UI). Each send waits until the sender's page shows it, so the
	// order of the conversation is known.
	want := []browserMsg{
		{Sender: "alice", Text: "hi bob, it's alice"},
		{Sender: "alice", Text: "are you watching the stream?"},
		{Sender: "alice", Text: "third message from alice <b>not bold</b>"},
		{Sender: "bob", Text: "hey alice, ça va ? — très bien"},
		{Sender: "bob", Text: "yes, the danmaku is flying"},
	}
	alice.typeChat(want[0].Text)
	alice.waitMsgs(conv, 1)
	alice.typeChat(want[1].Text)
	alice.waitMsgs(conv, 2)
	alice.jsSend(conv, want[2].Text)
	alice.waitMsgs(conv, 3)
	bob.waitMsgs(conv, 3)
	bob.typeChat(want[3].Text)
	bob.waitMsgs(conv, 4)
	bob.jsSend(conv, want[4].Text)
	for i := range want {
		want[i].Seq = uint64(i + 1)
	}
	alice.waitMsgs(conv, len(want))
	bob.waitMsgs(conv, len(want))
	alice.checkMsgs(conv, want)
	bob.checkMsgs(conv, want)

	// Danmaku from bob, rendered on alice's stage.
	comment := "bob says hi on the stream «live»"
	bob.run(chromedp.SendKeys(chromedp.ID("danmaku-input"), comment+kb.Enter))
	alice.waitDanmaku(comment)
	bob.waitDanmaku(comment)

	// Replace the edge: SIGTERM drains (Redirect, close 1001); a new
	// process takes the same address, data and resume secret. bob's two
	// messages go in through the backend API while alice reconnects.
	if err := edge.term(); err != nil {
		t.Fatalf("edge exit after SIGTERM: %v", err)
	}
	edge2 := startEdge(t, addr, data, "--dev")
	defer edge2.term()
	missed := []browserMsg{
		{Seq: 6, Sender: "bob", Text: "sent while you were away (1)"},
		{Seq: 7, Sender: "bob", Text: "sent while you were away (2)"},
	}
	for i, m := range missed {
		apiSend(t, base, conv, m.Sender, fmt.Sprintf("api-%d", i+1), m.Text)
	}
	want = append(want, missed...)
	// The status page of the new node, opened now so that its sparkline
	// sees the traffic below.
	status := openPage(t, browserCtx, "status", base+"/status")
	defer status.close()
	alice.waitMsgs(conv, len(want))
	alice.checkMsgs(conv, want)
	alice.waitConnected()
	if n := alice.reconnects(); n < 1 {
		t.Fatalf("alice: #reconnects = %d after the edge restart, want >= 1", n)
	}
	alice.screenshot(filepath.Join(shots, "demo-alice-after-reconnect.png"))

	// bob's page recovers too, and a message sent from the UI after the
	// restart reaches alice.
	bob.waitMsgs(conv, len(want))
	bob.checkMsgs(conv, want)
	bob.waitConnected()
	bob.typeChat("welcome back")
	want = append(want, browserMsg{Seq: 8, Sender: "bob", Text: "welcome back"})
	alice.waitMsgs(conv, len(want))
	bob.waitMsgs(conv, len(want))
	alice.checkMsgs(conv, want)
	bob.checkMsgs(conv, want)
	comment2 := "after the restart → still here"
	alice.run(chromedp.SendKeys(chromedp.ID("danmaku-input"), comment2+kb.Enter))
	bob.waitDanmaku(comment2)

	alice.screenshot(filepath.Join(shots, "demo-alice.png"))
	bob.screenshot(filepath.Join(shots, "demo-bob.png"))

	// The status page polled /v1/status of the new node a few times.
	status.poll("status page polls", `document.getElementById('node-id').textContent === 'itest' && Number(document.getElementById('spark').dataset.points) >= 3`)
	status.screenshot(filepath.Join(shots, "status.png"))
}

// screenshotDir is <repo root>/artifacts/screenshots, created.
func screenshotDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// openDemo opens the demo page as user, with a DM to dm, in a browser
// context of its own (separate storage, like another person's browser).
func openDemo(t *testing.T, browserCtx context.Context, base, user, dm string) *demoTab {
	t.Helper()
	return openPage(t, browserCtx, user, fmt.Sprintf("%s/?user=%s&dm=%s", base, user, dm))
}

func openPage(t *testing.T, browserCtx context.Context, name, url string) *demoTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	p := &demoTab{t: t, user: name, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("%s: new tab: %v", name, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(p.done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == "error" || m.Type == "warning" || m.IsException() {
				p.mu.Lock()
				p.console = append(p.console, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
				p.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(url)); err != nil {
		p.close()
		t.Fatalf("%s: navigate %s: %v", name, url, err)
	}
	return p
}

// close closes the tab and waits for its console reader.
func (p *demoTab) close() {
	p.cancel()
	<-p.done
}

// fail reports err with the page's console errors and stops the test.
func (p *demoTab) fail(format string, args ...any) {
	p.t.Helper()
	p.mu.Lock()
	logs := strings.Join(p.console, "\n")
	p.mu.Unlock()
	if logs != "" {
		p.t.Logf("%s: browser console:\n%s", p.user, logs)
	}
	p.t.Fatalf(p.user+": "+format, args...)
}

func (p *demoTab) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.fail("%v", err)
	}
}

// poll waits until the JavaScript expression is truthy.
func (p *demoTab) poll(what, expr string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		p.fail("waiting for %s: %v", what, err)
	}
}

func (p *demoTab) waitReady() {
	p.t.Helper()
	p.poll("window.edgegateDemo", `!!(window.edgegateDemo && window.edgegateDemo.ready)`)
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`window.edgegateDemo.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		p.fail("demo not ready: %v", err)
	}
	p.waitConnected()
}

func (p *demoTab) waitConnected() {
	p.t.Helper()
	p.poll("#conn-state connected", `document.getElementById('conn-state').textContent === 'connected'`)
}

// typeChat types text into the chat input and presses Enter.
func (p *demoTab) typeChat(text string) {
	p.t.Helper()
	p.run(chromedp.SendKeys(chromedp.ID("chat-input"), text+kb.Enter))
}

// jsSend sends through the SDK client of the page, as the page's own code
// would, and waits for the durable ack.
func (p *demoTab) jsSend(conv, text string) {
	p.t.Helper()
	expr := fmt.Sprintf(`window.edgegateDemo.client.send(%s, %s).then((a) => a.seq)`, jsString(conv), jsString(text))
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[uint64](expr, chromedp.EvalAwaitPromise)); err != nil {
		p.fail("client.send: %v", err)
	}
}

func (p *demoTab) waitMsgs(conv string, n int) {
	p.t.Helper()
	p.poll(fmt.Sprintf("%d messages in %s", n, conv),
		fmt.Sprintf(`document.querySelectorAll('.msg[data-conv=%s]').length >= %d`, jsString(conv), n))
}

func (p *demoTab) msgs(conv string) []browserMsg {
	p.t.Helper()
	expr := fmt.Sprintf(`[...document.querySelectorAll('.msg[data-conv=%s]')].map((e) => ({seq: Number(e.dataset.seq), sender: e.dataset.sender, text: e.dataset.text}))`, jsString(conv))
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]browserMsg](expr))
	if err != nil {
		p.fail("reading messages: %v", err)
	}
	return got
}

// checkMsgs requires exactly want, in this order, on the page.
func (p *demoTab) checkMsgs(conv string, want []browserMsg) {
	p.t.Helper()
	got := p.msgs(conv)
	if len(got) != len(want) {
		p.fail("%d messages in %s, want %d:\n got %+v\nwant %+v", len(got), conv, len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			p.fail("message %d in %s: got %+v, want %+v\n got %+v", i, conv, got[i], want[i], got)
		}
	}
}

func (p *demoTab) waitDanmaku(text string) {
	p.t.Helper()
	p.poll("danmaku "+text, fmt.Sprintf(`[...document.querySelectorAll('.danmaku')].some((e) => e.dataset.text === %s)`, jsString(text)))
}

func (p *demoTab) reconnects() int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`Number(document.getElementById('reconnects').dataset.reconnects)`))
	if err != nil {
		p.fail("reading #reconnects: %v", err)
	}
	return n
}

func (p *demoTab) screenshot(path string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.fail("screenshot: %v", err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apiSend appends a message through the backend HTTP API.
func apiSend(t *testing.T, base, conv, sender, clientMsgID, body string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"sender": sender, "client_msg_id": clientMsgID, "body": body})
	req, err := http.NewRequest("POST", base+"/v1/conversations/"+conv+"/messages", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("api send: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("api send: HTTP %d", resp.StatusCode)
	}
}
