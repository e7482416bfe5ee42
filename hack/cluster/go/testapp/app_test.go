package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable now().
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func get200(t *testing.T, h http.Handler, method, target, body string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b), rec.Result().Header
}

func TestReadyAfterDelayAndDuringDrain(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	a := newApp("v1", "pod-a", 5*time.Second, false, 0, clock.now)
	h := a.handler()
	steps := []struct {
		name  string
		act   func()
		want  int
		wantB string
	}{
		{"at start", func() {}, 503, "not ready\n"},
		{"just before ready-after", func() { clock.t = clock.t.Add(4999 * time.Millisecond) }, 503, "not ready\n"},
		{"at ready-after", func() { clock.t = clock.t.Add(time.Millisecond) }, 200, "ok\n"},
		{"draining", a.startDrain, 503, "draining\n"},
		{"still draining later", func() { clock.t = clock.t.Add(time.Hour) }, 503, "draining\n"},
	}
	for _, s := range steps {
		s.act()
		code, body, _ := get200(t, h, "GET", "/readyz", "")
		if code != s.want || body != s.wantB {
			t.Errorf("%s: /readyz = %d %q, want %d %q", s.name, code, body, s.want, s.wantB)
		}
	}
	if code, _, _ := get200(t, h, "GET", "/healthz", ""); code != 200 {
		t.Errorf("/healthz while draining = %d, want 200", code)
	}
}

func TestNeverReady(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	a := newApp("v1", "p", 0, true, 0, clock.now)
	clock.t = clock.t.Add(24 * time.Hour)
	if code, _, _ := get200(t, a.handler(), "GET", "/readyz", ""); code != 503 {
		t.Errorf("/readyz = %d, want 503", code)
	}
}

func TestRootAnswersVersionAndPod(t *testing.T) {
	a := newApp("v2", "web-123", 0, false, 0, time.Now)
	code, body, hdr := get200(t, a.handler(), "GET", "/", "")
	if code != 200 || body != "version=v2 pod=web-123\n" || hdr.Get("X-App-Version") != "v2" {
		t.Errorf("GET / = %d %q version header %q", code, body, hdr.Get("X-App-Version"))
	}
}

// pattern is the 200/500 sequence of n GET / requests, as "." and "X".
func pattern(t *testing.T, h http.Handler, n int) string {
	var b strings.Builder
	for range n {
		code, _, _ := get200(t, h, "GET", "/", "")
		if code == 500 {
			b.WriteByte('X')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestErrorRateIsDeterministic(t *testing.T) {
	cases := []struct {
		rate float64
		want string
	}{
		{0, ".........."},
		{0.5, ".X.X.X.X.X"},
		{0.25, "...X...X.."},
		{0.1, ".........X"},
		{0.3, "...X..X..X"},
		{1, "XXXXXXXXXX"},
	}
	for _, c := range cases {
		a := newApp("v1", "p", 0, false, c.rate, time.Now)
		if got := pattern(t, a.handler(), 10); got != c.want {
			t.Errorf("rate %v: %s, want %s", c.rate, got, c.want)
		}
	}
	a := newApp("v1", "p", 0, false, 0.5, time.Now)
	if got := strings.Count(pattern(t, a.handler(), 1000), "X"); got != 500 {
		t.Errorf("rate 0.5 over 1000 requests: %d failures, want exactly 500", got)
	}
}

func TestErrorRateKnob(t *testing.T) {
	a := newApp("v1", "p", 0, false, 0, time.Now)
	h := a.handler()
	pattern(t, h, 3) // the count restarts when the rate changes
	for _, req := range []struct{ target, body string }{{"/knobs/error-rate", "0.5\n"}, {"/knobs/error-rate?value=0.5", ""}} {
		code, body, _ := get200(t, h, "POST", req.target, req.body)
		if code != 200 || body != "0.5\n" {
			t.Fatalf("POST %s %q = %d %q", req.target, req.body, code, body)
		}
		if got := pattern(t, h, 4); got != ".X.X" {
			t.Errorf("after POST %s: %s, want .X.X", req.target, got)
		}
	}
	if _, body, _ := get200(t, h, "GET", "/knobs/error-rate", ""); body != "0.5\n" {
		t.Errorf("GET /knobs/error-rate = %q", body)
	}
	for _, bad := range []string{"1.5", "-0.1", "NaN", "x", ""} {
		if code, _, _ := get200(t, h, "POST", "/knobs/error-rate", bad); code != 400 {
			t.Errorf("POST %q = %d, want 400", bad, code)
		}
	}
	if a.errorRate() != 0.5 {
		t.Errorf("a bad POST changed the rate to %v", a.errorRate())
	}
}

func TestMetricsText(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	a := newApp(`v1`, "p", 0, false, 0.5, clock.now)
	h := a.handler()
	pattern(t, h, 4)
	get200(t, h, "GET", "/readyz", "")
	get200(t, h, "GET", "/nope", "")
	code, body, hdr := get200(t, h, "GET", "/metrics", "")
	want := `# HELP http_requests_total HTTP requests answered, by status code and path.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/"} 2
http_requests_total{code="500",path="/"} 2
http_requests_total{code="200",path="/readyz"} 1
http_requests_total{code="404",path="other"} 1
# HELP testapp_requests_total Requests to / answered, by version and status code.
# TYPE testapp_requests_total counter
testapp_requests_total{version="v1",code="200"} 2
testapp_requests_total{version="v1",code="500"} 2
# HELP testapp_version_info The version this process serves.
# TYPE testapp_version_info gauge
testapp_version_info{version="v1"} 1
# HELP testapp_ready Whether /readyz answers 200 (1) or 503 (0).
# TYPE testapp_ready gauge
testapp_ready 1
# HELP testapp_error_rate Fraction of GET / requests answered 500.
# TYPE testapp_error_rate gauge
testapp_error_rate 0.5
`
	if code != 200 || body != want {
		t.Errorf("/metrics = %d\n%s\nwant\n%s", code, body, want)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	a.startDrain()
	if _, body, _ := get200(t, h, "GET", "/metrics", ""); !strings.Contains(body, "\ntestapp_ready 0\n") {
		t.Errorf("draining: metrics lack testapp_ready 0:\n%s", body)
	}
}

func TestEscapeLabel(t *testing.T) {
	if got := escapeLabel("a\"b\\c\nd"); got != `a\"b\\c\nd` {
		t.Errorf("escapeLabel = %s", got)
	}
}

// requestSeries is the testapp_requests_total lines of /metrics.
func requestSeries(t *testing.T, h http.Handler) []string {
	t.Helper()
	_, body, _ := get200(t, h, "GET", "/metrics", "")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "testapp_requests_total{") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestRequestsByVersion: testapp_requests_total counts GET / only (probes,
// scrapes and the knob are not the application's traffic), has both codes
// from the start, and follows the error rate exactly.
func TestRequestsByVersion(t *testing.T) {
	cases := []struct {
		name    string
		rate    float64
		version string
		roots   int
		want    []string
	}{
		{"before any request", 0, "v1", 0, []string{
			`testapp_requests_total{version="v1",code="200"} 0`,
			`testapp_requests_total{version="v1",code="500"} 0`,
		}},
		{"no errors", 0, "v1", 10, []string{
			`testapp_requests_total{version="v1",code="200"} 10`,
			`testapp_requests_total{version="v1",code="500"} 0`,
		}},
		{"30% errors", 0.3, "v2", 100, []string{
			`testapp_requests_total{version="v2",code="200"} 70`,
			`testapp_requests_total{version="v2",code="500"} 30`,
		}},
		{"all errors", 1, "v3", 5, []string{
			`testapp_requests_total{version="v3",code="200"} 0`,
			`testapp_requests_total{version="v3",code="500"} 5`,
		}},
	}
	for _, c := range cases {
		a := newApp(c.version, "p", 0, false, c.rate, time.Now)
		h := a.handler()
		pattern(t, h, c.roots)
		for _, other := range []string{"/readyz", "/healthz", "/knobs/error-rate", "/nope"} {
			get200(t, h, "GET", other, "")
		}
		got := requestSeries(t, h)
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}
