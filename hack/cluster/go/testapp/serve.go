package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type serveConfig struct {
	listen          string
	version         string
	readyAfter      time.Duration
	neverReady      bool
	errorRate       float64
	drain           time.Duration
	shutdownTimeout time.Duration
	exitAfter       time.Duration
	exitCode        int
}

func runServe(args []string, env env, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	var cfg serveConfig
	rate := rateFlag(0)
	fs.StringVar(&cfg.listen, "listen", ":8080", "address to listen on")
	fs.StringVar(&cfg.version, "version", defaultVersion, "version to serve and report")
	fs.DurationVar(&cfg.readyAfter, "ready-after", 0, "/readyz answers 503 until this long after start")
	fs.BoolVar(&cfg.neverReady, "never-ready", false, "/readyz answers 503 forever")
	fs.Var(&rate, "error-rate", "fraction (0..1) of GET / answered 500, every k-th request")
	fs.DurationVar(&cfg.drain, "drain", 0, "after SIGTERM, keep serving (readiness 503) this long")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 5*time.Second, "bound on http.Server.Shutdown after the drain")
	fs.DurationVar(&cfg.exitAfter, "exit-after", 0, "exit with --exit-code this long after start (0: never)")
	fs.IntVar(&cfg.exitCode, "exit-code", 1, "exit code for --exit-after")
	envNames := map[string]string{
		"listen": "LISTEN", "version": "VERSION", "ready-after": "READY_AFTER", "never-ready": "NEVER_READY",
		"error-rate": "ERROR_RATE", "drain": "DRAIN", "shutdown-timeout": "SHUTDOWN_TIMEOUT",
		"exit-after": "EXIT_AFTER", "exit-code": "EXIT_CODE",
	}
	if code, done := parse(fs, args, envNames, env); done {
		return code
	}
	cfg.errorRate = float64(rate)

	pod, err := os.Hostname()
	if err != nil {
		pod = "unknown"
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(stderr, "testapp %s: %v\n", cfg.version, err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return serve(cfg, pod, ln, sigs, time.After, stdout)
}

// serve runs the server on ln until a signal (graceful: readiness 503 at
// once, serve on for the drain, then Shutdown) or --exit-after (abrupt). The
// timers come from after, so a test can decide when they fire.
func serve(cfg serveConfig, pod string, ln net.Listener, sigs <-chan os.Signal,
	after func(time.Duration) <-chan time.Time, out io.Writer) int {
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "testapp %s: %s\n", cfg.version, fmt.Sprintf(format, args...))
	}
	a := newApp(cfg.version, pod, cfg.readyAfter, cfg.neverReady, cfg.errorRate, time.Now)
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logf("serving on %s (pod %s, ready after %s, error rate %s)", ln.Addr(), pod, cfg.readyAfter, formatFloat(cfg.errorRate))

	var becameReady, exitTimer <-chan time.Time // nil channels never fire
	if cfg.neverReady {
		logf("never ready (--never-ready)")
	} else {
		becameReady = after(cfg.readyAfter)
	}
	if cfg.exitAfter > 0 {
		exitTimer = after(cfg.exitAfter)
	}
	exitNow := func() int {
		logf("exit-after %s elapsed: exiting with code %d", cfg.exitAfter, cfg.exitCode)
		_ = srv.Close()
		return cfg.exitCode
	}

	for {
		select {
		case <-becameReady:
			becameReady = nil
			logf("ready")
		case <-exitTimer:
			return exitNow()
		case err := <-served:
			logf("server failed: %v", err)
			return 1
		case sig := <-sigs:
			a.startDrain()
			// Clients on a kept-alive connection would otherwise stay on this
			// pod; closing after each answer sends them back to the Service.
			srv.SetKeepAlivesEnabled(false)
			logf("%s received: readiness 503, draining for %s", signalName(sig), cfg.drain)
			select {
			case <-after(cfg.drain):
			case <-exitTimer:
				return exitNow()
			}
			logf("drained")
			ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logf("shutdown after %s: %v (closing)", cfg.shutdownTimeout, err)
				_ = srv.Close()
			}
			logf("exit 0")
			return 0
		}
	}
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}
