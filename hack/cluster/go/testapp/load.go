package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const (
	maxLoadTime    = 10 * time.Minute // hard cap on one run, whatever the flags say
	maxTimeline    = 2000             // timeline points kept in the summary
	versionHeader  = "X-App-Version"
	errNotAllowedK = "not_allowed"
)

type loadConfig struct {
	url      string
	interval time.Duration
	duration time.Duration
	count    int
	timeout  time.Duration
	out      string
}

// summary is the one JSON line load prints.
type summary struct {
	Sent      int            `json:"sent"`
	OK        int            `json:"ok"`
	Failed    int            `json:"failed"`
	ByVersion map[string]int `json:"by_version"` // every answer, 5xx too, by its X-App-Version
	Errors    map[string]int `json:"errors"`     // failures by kind: http_503, connection_refused, ...
	Elapsed   float64        `json:"elapsed_s"`
	Timeline  []point        `json:"timeline"`
}

// point is one request: seconds since the start, whether it succeeded, and
// the version that answered ("" when none did). JSON: [1.234,"ok","v1"].
type point struct {
	t       float64
	ok      bool
	version string
}

func (p point) MarshalJSON() ([]byte, error) {
	status := "fail"
	if p.ok {
		status = "ok"
	}
	return json.Marshal([]any{p.t, status, p.version})
}

func runLoad(args []string, env env, stdout, stderr io.Writer) int {
	fs := newFlags("load", stderr)
	var cfg loadConfig
	fs.StringVar(&cfg.url, "url", "", "URL to GET (loopback or private addresses only)")
	fs.DurationVar(&cfg.interval, "interval", 20*time.Millisecond, "time between request starts")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop after this long (at most 10m)")
	fs.IntVar(&cfg.count, "count", 0, "stop after this many requests")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Second, "timeout of each request")
	fs.StringVar(&cfg.out, "out", "", "write the JSON summary to this file instead of stdout")
	envNames := map[string]string{
		"url": "LOAD_URL", "interval": "LOAD_INTERVAL", "duration": "LOAD_DURATION",
		"count": "LOAD_COUNT", "timeout": "LOAD_TIMEOUT", "out": "LOAD_OUT",
	}
	if code, done := parse(fs, args, envNames, env); done {
		return code
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 2
	}
	if err := checkTarget(context.Background(), cfg.url, net.DefaultResolver.LookupIPAddr); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	line, err := json.Marshal(load(ctx, cfg, newLoadClient(cfg.timeout)))
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	line = append(line, '\n')
	if cfg.out != "" {
		err = os.WriteFile(cfg.out, line, 0o644)
	} else {
		_, err = stdout.Write(line)
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	return 0
}

func (c loadConfig) validate() error {
	switch {
	case c.url == "":
		return errors.New("--url is required")
	case c.duration <= 0 && c.count <= 0:
		return errors.New("one of --duration or --count is required")
	case c.duration > maxLoadTime:
		return fmt.Errorf("--duration %s is over the %s cap", c.duration, maxLoadTime)
	case c.count < 0 || c.interval < 0 || c.timeout <= 0:
		return errors.New("--count and --interval must not be negative, --timeout must be positive")
	}
	return nil
}

// allowedIP is where load may send traffic: this machine, or the private
// ranges that pod and node addresses come from. Never a public address.
func allowedIP(ip net.IP) bool {
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

// checkTarget refuses a URL whose host is, or resolves to, any address that
// allowedIP refuses, so a typo fails at once rather than as N failures.
func checkTarget(ctx context.Context, raw string, lookup func(context.Context, string) ([]net.IPAddr, error)) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("--url %q: want http(s)://HOST[:PORT]/PATH", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !allowedIP(ip) {
			return fmt.Errorf("--url %q: %s is not a loopback or private address", raw, ip)
		}
		return nil
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !allowedIP(a.IP) {
			return fmt.Errorf("--url %q: %s resolves to %s, not a loopback or private address", raw, host, a.IP)
		}
	}
	return nil
}

var errNotAllowed = errors.New("address not allowed")

// newLoadClient opens a new TCP connection per request (so each one goes
// through the Service again, as a new client would), follows no redirect,
// ignores proxy variables, and checks every address it dials.
func newLoadClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, _ := net.SplitHostPort(address)
			if !allowedIP(net.ParseIP(host)) {
				return errNotAllowed
			}
			return nil
		},
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// load sends GETs one after another, one every interval, until count, the
// duration (or the 10-minute cap) or ctx ends it. A request that ctx cuts
// short (the load was stopped) is not counted.
func load(ctx context.Context, cfg loadConfig, client *http.Client) summary {
	limit := cfg.duration
	if limit <= 0 || limit > maxLoadTime {
		limit = maxLoadTime
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	s := summary{ByVersion: map[string]int{}, Errors: map[string]int{}}
	var timeline []point
	start := time.Now()
	next := start
	timer := time.NewTimer(0)
	defer timer.Stop()
	for cfg.count == 0 || s.Sent < cfg.count {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		t := time.Since(start).Seconds()
		version, kind := request(ctx, client, cfg.url)
		if kind != "" && ctx.Err() != nil {
			break
		}
		s.Sent++
		if version != "" {
			s.ByVersion[version]++
		}
		if kind == "" {
			s.OK++
		} else {
			s.Failed++
			s.Errors[kind]++
		}
		timeline = append(timeline, point{t: math.Round(t*1000) / 1000, ok: kind == "", version: version})
		next = next.Add(cfg.interval)
		if now := time.Now(); next.Before(now) {
			next = now // a slow answer delays the next request; no burst to catch up
		}
	}
	s.Elapsed = math.Round(time.Since(start).Seconds()*1000) / 1000
	s.Timeline = downsample(timeline, maxTimeline)
	if s.Timeline == nil {
		s.Timeline = []point{}
	}
	return s
}

// request GETs url once and returns the version that answered and, for a
// failure, its kind ("" for a 2xx answer).
func request(ctx context.Context, client *http.Client, url string) (version, kind string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", "other"
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", errorKind(err)
	}
	defer resp.Body.Close()
	version = resp.Header.Get(versionHeader)
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return version, errorKind(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return version, "http_" + strconv.Itoa(resp.StatusCode)
	}
	return version, ""
}

// errorKind names a transport error briefly, for the errors map.
func errorKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, errNotAllowed):
		return errNotAllowedK
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return "other"
}

// downsample keeps every failure and, of the successes, as many evenly
// spaced ones as still fit in max points, in their original order.
func downsample(pts []point, max int) []point {
	if len(pts) <= max {
		return pts
	}
	fails := 0
	for _, p := range pts {
		if !p.ok {
			fails++
		}
	}
	oks, budget := len(pts)-fails, max-fails
	if budget < 0 {
		budget = 0
	}
	out := make([]point, 0, fails+budget)
	seen := 0
	for _, p := range pts {
		if !p.ok {
			out = append(out, p)
			continue
		}
		// Same floor trick as the error rate: keep the (seen+1)-th success
		// when floor(seen*budget/oks) grows, which keeps exactly budget.
		if (seen+1)*budget/oks > seen*budget/oks {
			out = append(out, p)
		}
		seen++
	}
	return out
}
