package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoadSummary(t *testing.T) {
	a := newApp("v1", "p", 0, false, 0.5, time.Now)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	s := load(context.Background(), loadConfig{url: srv.URL + "/", count: 10}, newLoadClient(2*time.Second))
	if s.Sent != 10 || s.OK != 5 || s.Failed != 5 || s.ByVersion["v1"] != 10 || s.Errors["http_500"] != 5 || len(s.Errors) != 1 {
		t.Fatalf("summary %+v", s)
	}
	if len(s.Timeline) != 10 || s.Timeline[0].ok != true || s.Timeline[1].ok != false || s.Timeline[1].version != "v1" {
		t.Errorf("timeline %+v", s.Timeline)
	}
	line, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	first := back["timeline"].([]any)[1].([]any)
	if len(first) != 3 || first[1] != "fail" || first[2] != "v1" {
		t.Errorf("timeline JSON point %v in %s", first, line)
	}
	if strings.Contains(string(line), "\n") {
		t.Errorf("summary is not one line: %s", line)
	}
}

func TestLoadCountsConnectionErrors(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	s := load(context.Background(), loadConfig{url: url, count: 3}, newLoadClient(time.Second))
	if s.Sent != 3 || s.Failed != 3 || s.Errors["connection_refused"] != 3 || len(s.ByVersion) != 0 {
		t.Errorf("summary %+v", s)
	}
	if len(s.Timeline) != 3 || s.Timeline[0].version != "" {
		t.Errorf("timeline %+v", s.Timeline)
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	srv := httptest.NewServer(newApp("v1", "p", 0, false, 0, time.Now).handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if SIGTERM came before the first request
	s := load(ctx, loadConfig{url: srv.URL, count: 100}, newLoadClient(time.Second))
	if s.Sent != 0 || s.Timeline == nil {
		t.Errorf("summary %+v", s)
	}
}

func TestLoadValidate(t *testing.T) {
	cases := []struct {
		cfg  loadConfig
		want string
	}{
		{loadConfig{count: 1, timeout: time.Second}, "--url is required"},
		{loadConfig{url: "http://127.0.0.1/", timeout: time.Second}, "one of --duration or --count"},
		{loadConfig{url: "http://127.0.0.1/", duration: 11 * time.Minute, timeout: time.Second}, "cap"},
		{loadConfig{url: "http://127.0.0.1/", count: 1, timeout: time.Second}, ""},
	}
	for _, c := range cases {
		err := c.cfg.validate()
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
		switch host {
		case "localhost":
			return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}, {IP: net.ParseIP("::1")}}, nil
		case "web.default.svc":
			return []net.IPAddr{{IP: net.ParseIP("10.96.0.10")}}, nil
		case "public.example":
			return []net.IPAddr{{IP: net.ParseIP("93.184.216.34")}}, nil
		}
		return nil, errors.New("no such host")
	}
	cases := map[string]bool{
		"http://127.0.0.1:8080/":       true,
		"http://[::1]:8080/":           true,
		"http://10.244.1.7:8080/":      true,
		"http://192.168.3.4/":          true,
		"http://localhost:1/":          true,
		"http://web.default.svc/":      true,
		"http://8.8.8.8/":              false,
		"http://public.example/":       false,
		"http://nowhere.invalid/":      false,
		"ftp://127.0.0.1/":             false,
		"127.0.0.1:8080":               false,
		"http://169.254.169.254/meta/": false,
	}
	for url, ok := range cases {
		if err := checkTarget(context.Background(), url, lookup); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed=%v", url, err, ok)
		}
	}
}

func TestDialRefusesPublicAddress(t *testing.T) {
	// checkTarget is the front door; the dialer's check also covers a name
	// that resolves differently later. 192.0.2.1 is TEST-NET: never routed.
	_, kind := request(context.Background(), newLoadClient(time.Second), "http://192.0.2.1/")
	if kind != "not_allowed" {
		t.Errorf("kind %q, want not_allowed", kind)
	}
}

func TestDownsampleKeepsEveryFailure(t *testing.T) {
	var pts []point
	for i := range 10000 {
		pts = append(pts, point{t: float64(i), ok: i%1000 != 999})
	}
	out := downsample(pts, 2000)
	fails := 0
	for i, p := range out {
		if !p.ok {
			fails++
		}
		if i > 0 && out[i-1].t >= p.t {
			t.Fatalf("out of order at %d", i)
		}
	}
	if len(out) != 2000 || fails != 10 {
		t.Errorf("%d points, %d failures; want 2000 and 10", len(out), fails)
	}
	if short := pts[:50]; len(downsample(short, 2000)) != 50 {
		t.Error("a short timeline must be kept whole")
	}
}
