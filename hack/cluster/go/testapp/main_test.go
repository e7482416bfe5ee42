package main

import (
	"bytes"
	"strings"
	"testing"
)

func mapEnv(m map[string]string) env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFlagsWinOverEnv(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"version"}, nil, "dev\n"},
		{[]string{"version"}, map[string]string{"VERSION": "v2"}, "v2\n"},
		{[]string{"version", "--version", "v3"}, map[string]string{"VERSION": "v2"}, "v3\n"},
		{[]string{"version"}, map[string]string{"VERSION": ""}, "dev\n"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if code := run(c.args, mapEnv(c.env), &out, &out); code != 0 || out.String() != c.want {
			t.Errorf("%v %v: %d %q, want %q", c.args, c.env, code, out.String(), c.want)
		}
	}
}

func TestEnvListsAndErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	env := mapEnv(map[string]string{"HOOK_LOG": "one\ntwo\n", "HOOK_EXIT": "4"})
	if code := run([]string{"hook"}, env, &out, &errOut); code != 4 || out.String() != "one\ntwo\nhook exiting with 4\n" {
		t.Errorf("hook from env: %d %q %q", code, out.String(), errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"crash"}, mapEnv(map[string]string{"EXIT_CODE": "x"}), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "EXIT_CODE") {
		t.Errorf("bad env: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"serve", "--error-rate", "2"}, mapEnv(nil), &out, &errOut); code != 2 {
		t.Errorf("bad rate: %d %q", code, errOut.String())
	}
}

func TestCrash(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"crash", "--code", "3"}, mapEnv(map[string]string{"VERSION": "broken"}), &out, &errOut)
	if code != 3 || errOut.String() != "testapp broken: crashing on purpose (exit 3)\n" || out.Len() != 0 {
		t.Errorf("crash: %d %q %q", code, out.String(), errOut.String())
	}
}

func TestHelpNamesEnv(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"serve", "-h"}, mapEnv(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "(env READY_AFTER)") {
		t.Errorf("serve -h: %d %s", code, out.String())
	}
	if code := run([]string{"nope"}, mapEnv(nil), &out, &out); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
}
