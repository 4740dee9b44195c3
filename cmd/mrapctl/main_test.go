package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
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
		{"up with a bad Region", []string{"up", "--data", "TMP", "--regions", "us-east-1,mars"}, 0, `"mars" is not a Region name`},
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
