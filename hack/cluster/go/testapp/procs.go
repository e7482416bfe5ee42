package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runCrash is the "broken" image: it fails the way a bad release does, so a
// rollout sees CrashLoopBackOff.
func runCrash(args []string, env env, stdout, stderr io.Writer) int {
	fs := newFlags("crash", stderr)
	code := fs.Int("code", 1, "exit code")
	afterD := fs.Duration("after", 0, "run this long before crashing")
	ver := fs.String("version", defaultVersion, "version to report")
	if c, done := parse(fs, args, map[string]string{"code": "EXIT_CODE", "after": "CRASH_AFTER", "version": "VERSION"}, env); done {
		return c
	}
	time.Sleep(*afterD)
	fmt.Fprintf(stderr, "testapp %s: crashing on purpose (exit %d)\n", *ver, *code)
	return *code
}

// runPause is the pod sandbox's process: it holds the namespaces until told
// to stop. As PID 1 it also reaps the zombies of processes that the pod's
// containers left behind when they share its PID namespace.
func runPause(args []string, env env, stdout, stderr io.Writer) int {
	fs := newFlags("pause", stderr)
	if c, done := parse(fs, args, nil, env); done {
		return c
	}
	// A handled signal reaches PID 1 too (the kernel drops only signals left
	// at their default action), so TERM and INT stop it as anywhere else.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			return 0
		}
		for {
			// One SIGCHLD may stand for several children: reap until none.
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return 0
}
