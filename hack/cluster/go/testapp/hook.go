package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// hookConfig lists a hook's steps; each is optional and they run in the
// order of the fields: log, sleep, get, append, fail-times, exit.
type hookConfig struct {
	logs       []string
	sleep      time.Duration
	gets       []string
	expectDown bool
	appendFile string
	line       string
	failTimes  int
	counter    string
	exitCode   int
}

func runHook(args []string, env env, stdout, stderr io.Writer) int {
	fs := newFlags("hook", stderr)
	var cfg hookConfig
	logs, gets := listFlag{}, listFlag{}
	fs.Var(&logs, "log", "print this line (repeatable)")
	fs.DurationVar(&cfg.sleep, "sleep", 0, "then sleep this long")
	fs.Var(&gets, "get", "then GET this URL, 3s timeout; non-2xx or an error fails the hook (repeatable)")
	fs.BoolVar(&cfg.expectDown, "expect-down", false, "--get succeeds only on an error or non-2xx, fails on 2xx")
	fs.StringVar(&cfg.appendFile, "append", "", "then append --line to this file, creating directories")
	fs.StringVar(&cfg.line, "line", "", "the line for --append")
	fs.IntVar(&cfg.failTimes, "fail-times", 0, "then fail the first N runs, counted in --counter")
	fs.StringVar(&cfg.counter, "counter", "", "file holding the run count for --fail-times")
	fs.IntVar(&cfg.exitCode, "exit", 0, "finally exit with this code")
	envNames := map[string]string{
		"log": "HOOK_LOG", "sleep": "HOOK_SLEEP", "get": "HOOK_GET", "expect-down": "HOOK_EXPECT_DOWN",
		"append": "HOOK_APPEND", "line": "HOOK_LINE", "fail-times": "HOOK_FAIL_TIMES",
		"counter": "HOOK_COUNTER", "exit": "HOOK_EXIT",
	}
	if code, done := parse(fs, args, envNames, env); done {
		return code
	}
	cfg.logs, cfg.gets = logs, gets
	if cfg.failTimes > 0 && cfg.counter == "" {
		fmt.Fprintln(stderr, "hook: --fail-times needs --counter FILE")
		return 2
	}
	client := &http.Client{Timeout: 3 * time.Second}
	return hook(cfg, client, time.Sleep, stdout, stderr)
}

// hook runs the steps of cfg and returns the exit code.
func hook(cfg hookConfig, client *http.Client, sleep func(time.Duration), stdout, stderr io.Writer) int {
	for _, l := range cfg.logs {
		fmt.Fprintln(stdout, l)
	}
	if cfg.sleep > 0 {
		fmt.Fprintf(stdout, "sleeping %s\n", cfg.sleep)
		sleep(cfg.sleep)
	}
	for _, url := range cfg.gets {
		up := get(client, url, stdout)
		if up == cfg.expectDown {
			want := "a 2xx answer"
			if cfg.expectDown {
				want = "it to be down"
			}
			fmt.Fprintf(stderr, "hook failed: GET %s: expected %s\n", url, want)
			return 1
		}
	}
	if cfg.appendFile != "" {
		if err := appendLine(cfg.appendFile, cfg.line); err != nil {
			fmt.Fprintf(stderr, "hook failed: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "appended to %s: %s\n", cfg.appendFile, cfg.line)
	}
	if cfg.counter != "" {
		k, err := bumpCounter(cfg.counter)
		if err != nil {
			fmt.Fprintf(stderr, "hook failed: %v\n", err)
			return 1
		}
		if k <= cfg.failTimes {
			fmt.Fprintf(stdout, "attempt %d of a hook that fails %d times: failing\n", k, cfg.failTimes)
			return 1
		}
		fmt.Fprintf(stdout, "attempt %d: succeeding\n", k)
	}
	fmt.Fprintf(stdout, "hook exiting with %d\n", cfg.exitCode)
	return cfg.exitCode
}

// get prints what url answered and says whether it answered 2xx.
func get(client *http.Client, url string, stdout io.Writer) bool {
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stdout, "GET %s -> error: %v\n", url, err)
		return false
	}
	defer resp.Body.Close()
	first, _ := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	fmt.Fprintf(stdout, "GET %s -> %d %s\n", url, resp.StatusCode, strings.TrimRight(first, "\r\n"))
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// appendLine appends line to path, creating the file and its directories:
// the "migration" that writes to a volume.
func appendLine(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// bumpCounter adds one to the integer in path (a missing file counts 0) and
// returns the new value: the number of this attempt. The file lives on a
// volume, so it outlives the hook's container between retries.
func bumpCounter(path string) (int, error) {
	n := 0
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return 0, err
	case strings.TrimSpace(string(data)) != "":
		if n, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
			return 0, fmt.Errorf("counter %s: %v", path, err)
		}
	}
	n++
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	return n, os.WriteFile(path, []byte(strconv.Itoa(n)+"\n"), 0o644)
}
