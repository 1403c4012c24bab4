package itest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgegate/edgegate/edge/auth"
)

const (
	secret = "itest-secret-itest-secret-itest-secret"
	apiKey = "itest-api-key-0123456789"
)

var edgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgegate-itest")
	if err != nil {
		panic(err)
	}
	edgeBin = filepath.Join(dir, "edge")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "build", "-o", edgeBin, "./cmd/edge")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building edge:", err)
		os.Exit(1)
	}
	code := 0
	func() {
		defer func() { _ = os.RemoveAll(dir) }()
		code = runWithLeakCheck(m)
	}()
	os.Exit(code)
}

func runWithLeakCheck(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			return 1
		}
	}
	return code
}

// edgeProc is a running edge process.
type edgeProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	data string
	logs *strings.Builder
	done chan error
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startEdge starts an edge on addr with data dir data and waits for /readyz.
func startEdge(t *testing.T, addr, data string, extra ...string) *edgeProc {
	t.Helper()
	args := append([]string{"--listen", addr, "--data", data, "--auth-hmac-secret", secret, "--api-key", apiKey,
		"--node-id", "itest", "--log-level", "debug", "--resume-secret", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}, extra...)
	cmd := exec.Command(edgeBin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &edgeProc{t: t, cmd: cmd, addr: addr, data: data, logs: &strings.Builder{}, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.logs.WriteString(sc.Text() + "\n")
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-logDone
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("edge logs:\n%s", p.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("edge exited: %v\n%s", err, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *edgeProc) url() string { return "ws://" + p.addr + "/v1/ws" }

// kill9 kills the process without warning.
func (p *edgeProc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and waits for a clean exit.
func (p *edgeProc) term() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("edge did not exit after SIGTERM")
		return nil
	}
}

func token(t *testing.T, user string, convs, rooms []string) string {
	t.Helper()
	tok, err := auth.MintHS256([]byte(secret), auth.MintClaims{Subject: user, Convs: convs, Rooms: rooms, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type historyMsg struct {
	Seq         uint64 `json:"seq"`
	Sender      string `json:"sender"`
	ClientMsgID string `json:"client_msg_id"`
	Body        string `json:"body"`
}

// apiGet sends a GET with the API key to url and decodes a 200 answer's
// JSON body into out; it returns the status.
func apiGet(t *testing.T, url string, out any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// history reads a whole conversation log through the HTTP API, oldest first.
func history(t *testing.T, addr, conv string) []historyMsg {
	t.Helper()
	var out []historyMsg
	after := uint64(0)
	for {
		var page struct {
			Messages []historyMsg `json:"messages"`
			HasMore  bool         `json:"has_more"`
		}
		status := apiGet(t, fmt.Sprintf("http://%s/v1/conversations/%s/messages?after=%d&limit=1000", addr, conv, after), &page)
		if status == http.StatusNotFound {
			return out
		}
		if status != http.StatusOK {
			t.Fatalf("history: %d", status)
		}
		out = append(out, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return out
		}
		after = page.Messages[len(page.Messages)-1].Seq
	}
}
