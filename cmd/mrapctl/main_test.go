package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/runtime"
)

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantExit int    // 0: any error; else the exit code
		wantMsg  string // in the error or in stderr
	}{
		{"no command prints usage", nil, 2, "Local runtime"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"status", "--colour"}, 0, "flag provided but not defined: -colour"},
		{"failover without a Region", []string{"failover"}, 0, "failover needs --to REGION"},
		{"drain needs one Region", []string{"drain"}, 0, "drain needs exactly one REGION"},
		{"failback takes no Region", []string{"failback", "us-east-1"}, 0, "failback takes no Region"},
		{"fault needs two arguments", []string{"fault", "us-east-1"}, 0, "want a Region and a fault"},
		{"unknown fault", []string{"fault", "us-east-1", "sideways"}, 0, `unknown fault "sideways"`},
		{"no runtime running", []string{"status", "--data", "/nonexistent/mrap"}, 0, "no local runtime found in /nonexistent/mrap"},
		{"bad ARN for AWS", []string{"status", "--mrap-arn", "arn:aws:s3:::bucket"}, 0, "is not arn:aws:s3::ACCOUNT:accesspoint/ALIAS"},
		{"drill cannot inject up", []string{"drill", "--fault", "up"}, 0, `--fault "up"`},
		{"the unknown fault names outage and isolate", []string{"fault", "us-east-1", "gone"}, 0, "outage or isolate"},
		{"up with a decider outside the Regions", []string{"up", "--data", "TMP", "--deciders", "us-west-2"}, 0, "decider Region us-west-2 is not one of the Regions"},
		{"up with a bad Region", []string{"up", "--data", "TMP", "--regions", "us-east-1,mars"}, 0, `"mars" is not a Region name`},
		{"reconcile with no workers", []string{"reconcile", "--workers", "0"}, 0, "--workers 0: want at least 1"},
		{"reconcile with a negative rate", []string{"reconcile", "--rate", "-1"}, 0, "--rate and --read-rate"},
		{"drill with a bound of zero", []string{"drill", "--bound-flip", "0s"}, 0, "--bound-flip 0s: want a positive duration"},
		{"drill with a negative error budget", []string{"drill", "--max-errors-after-flip", "-1"}, 0, "--max-errors-after-flip -1"},
		{"up without versitygw", []string{"up", "--data", "TMP", "--versitygw", "/nonexistent/versitygw"}, 0, "make tools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			dir := t.TempDir()
			for i, a := range tt.args {
				if a == "TMP" {
					tt.args[i] = dir
				}
			}
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) succeeded, want an error", tt.args)
			}
			var ec exitCode
			if tt.wantExit != 0 && (!errors.As(err, &ec) || int(ec) != tt.wantExit) {
				t.Errorf("run(%q) = %v, want exit %d", tt.args, err, tt.wantExit)
			}
			all := err.Error() + stdout.String() + stderr.String()
			if !strings.Contains(all, tt.wantMsg) {
				t.Errorf("run(%q) output %q, want it to mention %q", tt.args, all, tt.wantMsg)
			}
		})
	}
}

func TestHelpSucceeds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &stdout, &stderr); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, cmd := range []string{"up", "status", "fault", "drill", "failover --to REGION", "failback", "drain"} {
		if !strings.Contains(stdout.String(), "mrapctl "+cmd) {
			t.Errorf("usage does not mention %q", cmd)
		}
	}
	err := run(context.Background(), []string{"drill", "-h"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-bound-detection") {
		t.Errorf("drill -h: err %v, stderr %q", err, stderr.String())
	}
}

func TestStatusShowsTheObserverMatrixAndTheDeciders(t *testing.T) {
	st := runtime.Status{
		Serving: "eu-west-1",
		Regions: []runtime.RegionStatus{{Region: "us-east-1", Alarm: "ALARM", Fault: "outage"}, {Region: "eu-west-1", Alarm: "OK", Fault: "up", ProbeOK: true}},
		Observations: []runtime.ObservationStatus{
			{Observer: "us-east-1", Target: "eu-west-1", Path: "regional", Alarm: "UNREADABLE"},
			{Observer: "us-east-1", Target: "global", Path: "global", ProbeError: "us-east-1 is out"},
			{Observer: "eu-west-1", Target: "us-east-1", Path: "regional", Alarm: "ALARM"},
			{Observer: "eu-west-1", Target: "global", Path: "global", ProbeOK: true, ProbeLatencyMs: 7, ProbeAt: time.Now()},
		},
		Deciders:    []runtime.DeciderStatus{{Region: "us-east-1", State: "out"}, {Region: "eu-west-1", State: "running", LastDecision: "evacuation"}},
		LastDecider: "eu-west-1",
	}
	var out bytes.Buffer
	printLocalStatus(&out, st)
	lines := strings.Split(out.String(), "\n")
	h := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `FROM \ TO`) })
	if h < 0 || h+2 >= len(lines) {
		t.Fatalf("no observer x target matrix:\n%s", out.String())
	}
	// Rows: observer, then the targets us-east-1, eu-west-1, global.
	for i, want := range []string{"us-east-1 - UNREADABLE OUT", "eu-west-1 ALARM - ok 7ms"} {
		if got := strings.Join(strings.Fields(lines[h+1+i]), " "); got != want {
			t.Errorf("matrix row %d = %q, want %q", i, got, want)
		}
	}
	if !strings.Contains(out.String(), "last routing change made by the decider in eu-west-1") || !strings.Contains(out.String(), "us-east-1  out") {
		t.Errorf("status does not name the deciders and the last one to change the routes:\n%s", out.String())
	}
}
