package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// app is the state behind serve's handlers: readiness, the error-rate knob
// and the request counters. Time comes from now, so tests need no sleep.
type app struct {
	version    string
	pod        string
	start      time.Time
	readyAfter time.Duration
	neverReady bool
	now        func() time.Time
	draining   atomic.Bool

	mu       sync.Mutex
	rate     float64 // fraction of GET / answered 500, as set
	ratePPM  int64   // the same in parts per million, so the pattern is exact
	served   int64   // GET / requests since the rate was last set
	requests map[requestKey]uint64
}

type requestKey struct {
	path string
	code int
}

func newApp(version, pod string, readyAfter time.Duration, neverReady bool, errorRate float64, now func() time.Time) *app {
	a := &app{
		version: version, pod: pod, start: now(), readyAfter: readyAfter, neverReady: neverReady,
		now: now, requests: map[requestKey]uint64{},
	}
	a.setErrorRate(errorRate)
	return a
}

// ready is what /readyz answers: not before readyAfter, never with
// neverReady, and no longer once draining has begun.
func (a *app) ready() bool {
	return !a.neverReady && !a.draining.Load() && a.now().Sub(a.start) >= a.readyAfter
}

// startDrain makes readiness fail from now on (SIGTERM received).
func (a *app) startDrain() { a.draining.Store(true) }

// setErrorRate changes the knob and restarts the request count, so the
// pattern after a change is the same as from the start: after setting 0.5,
// exactly every 2nd GET / fails.
func (a *app) setErrorRate(rate float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rate, a.ratePPM, a.served = rate, int64(math.Round(rate*1e6)), 0
}

func (a *app) errorRate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rate
}

// nextFails counts one GET / and says whether it is answered 500. Request n
// (from 1) fails when floor(n*rate) grows, so of the first n requests exactly
// floor(n*rate) fail, spread evenly: 0.5 fails every 2nd, 0.25 every 4th,
// 1 all of them. Deterministic, unlike a random draw, so tests can count.
func (a *app) nextFails() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.served++
	n := a.served
	return n*a.ratePPM/1e6 > (n-1)*a.ratePPM/1e6
}

func (a *app) count(path string, code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests[requestKey{path, code}]++
}

// knownPaths bounds the path label of http_requests_total; anything else is
// counted as "other".
var knownPaths = map[string]bool{"/": true, "/readyz": true, "/healthz": true, "/metrics": true, "/knobs/error-rate": true}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.root)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case a.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !a.ready():
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		a.writeMetrics(w)
	})
	mux.HandleFunc("GET /knobs/error-rate", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, formatFloat(a.errorRate()))
	})
	mux.HandleFunc("POST /knobs/error-rate", a.setErrorRateHandler)

	// Every answer carries the version and is counted by path and code.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", a.version)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		path := r.URL.Path
		if !knownPaths[path] {
			path = "other"
		}
		a.count(path, rec.code)
	})
}

func (a *app) root(w http.ResponseWriter, r *http.Request) {
	if a.nextFails() {
		http.Error(w, fmt.Sprintf("version=%s pod=%s injected error", a.version, a.pod), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "version=%s pod=%s\n", a.version, a.pod)
}

// setErrorRateHandler takes the new rate from ?value= or else the body.
func (a *app) setErrorRateHandler(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("value")
	if raw == "" {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		raw = string(body)
	}
	var rate rateFlag
	if err := rate.Set(strings.TrimSpace(raw)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.setErrorRate(float64(rate))
	fmt.Fprintln(w, formatFloat(float64(rate)))
}

// writeMetrics writes the Prometheus text exposition format (0.0.4) by hand:
// five metric families, series sorted so the output is stable.
func (a *app) writeMetrics(w io.Writer) {
	a.mu.Lock()
	keys := make([]requestKey, 0, len(a.requests))
	for k := range a.requests {
		keys = append(keys, k)
	}
	counts := make(map[requestKey]uint64, len(a.requests))
	for k, v := range a.requests {
		counts[k] = v
	}
	rate := a.rate
	a.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].path != keys[j].path {
			return keys[i].path < keys[j].path
		}
		return keys[i].code < keys[j].code
	})

	fmt.Fprintln(w, "# HELP http_requests_total HTTP requests answered, by status code and path.")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "http_requests_total{code=\"%d\",path=\"%s\"} %d\n", k.code, escapeLabel(k.path), counts[k])
	}
	// The application's own traffic (GET /, what clients and the load generator
	// get; probes and scrapes are not in it), by the version this process
	// serves: the series a metric analysis divides. Both codes GET / answers
	// are there from the start, so an error ratio is 0, not absent, before the
	// first failure.
	fmt.Fprintln(w, "# HELP testapp_requests_total Requests to / answered, by version and status code.")
	fmt.Fprintln(w, "# TYPE testapp_requests_total counter")
	rootCodes := map[int]uint64{http.StatusOK: 0, http.StatusInternalServerError: 0}
	for _, k := range keys {
		if k.path == "/" {
			rootCodes[k.code] = counts[k]
		}
	}
	codes := make([]int, 0, len(rootCodes))
	for c := range rootCodes {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "testapp_requests_total{version=\"%s\",code=\"%d\"} %d\n", escapeLabel(a.version), c, rootCodes[c])
	}
	fmt.Fprintln(w, "# HELP testapp_version_info The version this process serves.")
	fmt.Fprintln(w, "# TYPE testapp_version_info gauge")
	fmt.Fprintf(w, "testapp_version_info{version=\"%s\"} 1\n", escapeLabel(a.version))
	fmt.Fprintln(w, "# HELP testapp_ready Whether /readyz answers 200 (1) or 503 (0).")
	fmt.Fprintln(w, "# TYPE testapp_ready gauge")
	ready := 0
	if a.ready() {
		ready = 1
	}
	fmt.Fprintf(w, "testapp_ready %d\n", ready)
	fmt.Fprintln(w, "# HELP testapp_error_rate Fraction of GET / requests answered 500.")
	fmt.Fprintln(w, "# TYPE testapp_error_rate gauge")
	fmt.Fprintf(w, "testapp_error_rate %s\n", formatFloat(rate))
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// rateFlag is an error rate: a float from 0 to 1.
type rateFlag float64

func (r *rateFlag) String() string { return formatFloat(float64(*r)) }
func (r *rateFlag) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return fmt.Errorf("error rate %q is not a number from 0 to 1", s)
	}
	*r = rateFlag(f)
	return nil
}
