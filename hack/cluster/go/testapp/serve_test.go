package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a log the test reads while serve writes it; lines, if set,
// gets each line as it is written.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	lines chan string
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines != nil {
		s.lines <- string(p)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeDrainsOnSIGTERM runs the whole lifecycle on a loopback port. The
// drain timer is a channel the test closes, so nothing sleeps.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	drainDone := make(chan time.Time)
	after := func(d time.Duration) <-chan time.Time {
		if d == time.Hour { // the drain
			return drainDone
		}
		return time.After(d)
	}
	sigs := make(chan os.Signal, 1)
	log := syncBuffer{lines: make(chan string, 100)}
	exit := make(chan int)
	cfg := serveConfig{version: "v1", drain: time.Hour, shutdownTimeout: 5 * time.Second}
	go func() { exit <- serve(cfg, "pod-x", ln, sigs, after, &log) }()

	status := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != 200 {
		t.Fatalf("/readyz before SIGTERM = %d", got)
	}
	sigs <- syscall.SIGTERM
	// The drain starts asynchronously: wait for its log line.
	for line := ""; !strings.Contains(line, "SIGTERM received"); {
		select {
		case line = <-log.lines:
		case code := <-exit:
			t.Fatalf("serve exited %d before draining", code)
		}
	}
	if got := status("/readyz"); got != 503 {
		t.Errorf("/readyz while draining = %d, want 503", got)
	}
	if got := status("/"); got != 200 {
		t.Errorf("GET / while draining = %d, want 200", got)
	}
	close(drainDone)
	if code := <-exit; code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	for _, line := range []string{"serving on", "ready", "SIGTERM received: readiness 503, draining for 1h0m0s", "drained", "exit 0"} {
		if !strings.Contains(log.String(), "testapp v1: "+line) {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
}

func TestServeExitAfter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fire := make(chan time.Time, 1)
	fire <- time.Time{}
	after := func(time.Duration) <-chan time.Time { return fire }
	var log syncBuffer
	cfg := serveConfig{version: "v1", neverReady: true, exitAfter: time.Minute, exitCode: 7}
	if code := serve(cfg, "p", ln, nil, after, &log); code != 7 {
		t.Errorf("exit code %d, want 7\n%s", code, log.String())
	}
}
