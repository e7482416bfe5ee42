package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runHookCfg(t *testing.T, cfg hookConfig) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	var slept time.Duration
	code := hook(cfg, &http.Client{Timeout: 3 * time.Second}, func(d time.Duration) { slept += d }, &out, &errOut)
	if slept != cfg.sleep {
		t.Errorf("slept %s, want %s", slept, cfg.sleep)
	}
	return code, out.String(), errOut.String()
}

func TestHookFailTimesCounter(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "state", "count")
	cfg := hookConfig{failTimes: 2, counter: counter}
	want := []struct {
		code int
		out  string
	}{
		{1, "attempt 1 of a hook that fails 2 times: failing\n"},
		{1, "attempt 2 of a hook that fails 2 times: failing\n"},
		{0, "attempt 3: succeeding\nhook exiting with 0\n"},
		{0, "attempt 4: succeeding\nhook exiting with 0\n"},
	}
	for i, w := range want {
		code, out, _ := runHookCfg(t, cfg)
		if code != w.code || out != w.out {
			t.Errorf("run %d: %d %q, want %d %q", i+1, code, out, w.code, w.out)
		}
	}
	if data, _ := os.ReadFile(counter); string(data) != "4\n" {
		t.Errorf("counter file %q", data)
	}
}

func TestHookCounterRejectsGarbage(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "count")
	os.WriteFile(counter, []byte("many"), 0o644)
	if code, _, errOut := runHookCfg(t, hookConfig{failTimes: 1, counter: counter}); code != 1 || !strings.Contains(errOut, "counter") {
		t.Errorf("garbage counter: %d %q", code, errOut)
	}
}

func TestHookStepsInOrder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vol", "migrations.log")
	cfg := hookConfig{logs: []string{"pre-upgrade hook", "v2"}, sleep: 3 * time.Second, appendFile: file, line: "migrated to v2", exitCode: 3}
	code, out, _ := runHookCfg(t, cfg)
	want := "pre-upgrade hook\nv2\nsleeping 3s\nappended to " + file + ": migrated to v2\nhook exiting with 3\n"
	if code != 3 || out != want {
		t.Errorf("got %d %q, want 3 %q", code, out, want)
	}
	runHookCfg(t, cfg)
	if data, _ := os.ReadFile(file); string(data) != "migrated to v2\nmigrated to v2\n" {
		t.Errorf("file after two runs: %q", data)
	}
}

func TestHookGetAndExpectDown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("version=v1 pod=a\nsecond line\n"))
	}))
	defer up.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", 500)
	}))
	defer failing.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/readyz"
	down.Close() // nothing listens there any more: connection refused

	cases := []struct {
		name       string
		url        string
		expectDown bool
		code       int
		out        string
	}{
		{"up", up.URL, false, 0, "GET " + up.URL + " -> 200 version=v1 pod=a\n"},
		{"up, expected down", up.URL, true, 1, "GET " + up.URL + " -> 200 version=v1 pod=a\n"},
		{"500", failing.URL, false, 1, "GET " + failing.URL + " -> 500 boom\n"},
		{"500, expected down", failing.URL, true, 0, "GET " + failing.URL + " -> 500 boom\n"},
		{"refused", downURL, false, 1, "GET " + downURL + " -> error: "},
		{"refused, expected down", downURL, true, 0, "GET " + downURL + " -> error: "},
	}
	for _, c := range cases {
		code, out, _ := runHookCfg(t, hookConfig{gets: []string{c.url}, expectDown: c.expectDown})
		if code != c.code || !strings.HasPrefix(out, c.out) {
			t.Errorf("%s: %d %q, want %d %q...", c.name, code, out, c.code, c.out)
		}
		if c.code == 0 && !strings.HasSuffix(out, "hook exiting with 0\n") {
			t.Errorf("%s: did not go on to exit: %q", c.name, out)
		}
	}
}
