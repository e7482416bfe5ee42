// Command openrollout-testapp is the application that the local cluster's real
// pods run: a small HTTP server with readiness, metrics and failure knobs
// (serve), a crashing container (crash), lifecycle hooks (hook), the pod
// sandbox (pause) and a bounded load generator (load). README.md beside this
// file is the reference for every subcommand and flag.
//
// It uses the standard library only, so the image is one static binary.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// defaultVersion is what VERSION falls back to; the images set VERSION.
const defaultVersion = "dev"

// env looks a variable up; commands take it as an argument so tests can
// pass a map instead of changing the process environment.
type env func(string) (string, bool)

// command is one subcommand: it gets the arguments after its name and
// returns the process exit code.
type command func(args []string, env env, stdout, stderr io.Writer) int

var commands = map[string]command{
	"serve":   runServe,
	"crash":   runCrash,
	"hook":    runHook,
	"pause":   runPause,
	"load":    runLoad,
	"version": runVersion,
}

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run picks the subcommand from the first argument. No argument, or a flag
// first, means serve: the images' Cmd can then be overridden by flags alone.
func run(args []string, env env, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "testapp: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	return cmd(args, env, stdout, stderr)
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: openrollout-testapp [%s] [flags]  (serve is the default; <command> -h lists its flags)\n",
		strings.Join(names, "|"))
}

func runVersion(args []string, env env, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	v := fs.String("version", defaultVersion, "version to print")
	if code, done := parse(fs, args, map[string]string{"version": "VERSION"}, env); done {
		return code
	}
	fmt.Fprintln(stdout, *v)
	return 0
}

// newFlags makes a subcommand's flag set; parse errors are returned rather
// than fatal so that run can map them to exit code 2.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("openrollout-testapp "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, then gives each flag of envNames that was not on the
// command line the value of its environment variable, if that is set and not
// empty: flags win over the environment. The help text of each such flag
// names its variable. A list flag takes one item per line of its variable.
// done is true when the command must stop with code (help, bad usage).
func parse(fs *flag.FlagSet, args []string, envNames map[string]string, env env) (code int, done bool) {
	names := make([]string, 0, len(envNames))
	for name, v := range envNames {
		fs.Lookup(name).Usage += fmt.Sprintf(" (env %s)", v)
		names = append(names, name)
	}
	sort.Strings(names) // the first bad variable reported is always the same one
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true // the flag package already printed the error and usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	for _, name := range names {
		val, ok := env(envNames[name])
		if onCommandLine[name] || !ok || val == "" {
			continue
		}
		items := []string{val}
		if _, isList := fs.Lookup(name).Value.(*listFlag); isList {
			items = strings.Split(strings.TrimRight(val, "\n"), "\n")
		}
		for _, item := range items {
			if err := fs.Set(name, item); err != nil {
				fmt.Fprintf(fs.Output(), "%s: %s=%q: %v\n", fs.Name(), envNames[name], val, err)
				return 2, true
			}
		}
	}
	return 0, false
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
