package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// statuses answers each call with the next status, then the last one for ever.
func statuses(sts ...runtime.Status) func(context.Context) (runtime.Status, error) {
	i := 0
	return func(context.Context) (runtime.Status, error) {
		st := sts[min(i, len(sts)-1)]
		i++
		return st, nil
	}
}

func regionsAt(rs ...runtime.RegionStatus) runtime.Status { return runtime.Status{Regions: rs} }

func TestWaitHealthy(t *testing.T) {
	use1Alarm := runtime.RegionStatus{Region: "us-east-1", Dial: 0, Alarm: "ALARM", Fault: "up"}
	use1Faulty := runtime.RegionStatus{Region: "us-east-1", Dial: 0, Alarm: "ALARM", Fault: "down"}
	use1OK := runtime.RegionStatus{Region: "us-east-1", Dial: 0, Alarm: "OK", Fault: "up"}
	euw1 := runtime.RegionStatus{Region: "eu-west-1", Dial: 100, Alarm: "OK", Fault: "up"}
	euw1Alarm := runtime.RegionStatus{Region: "eu-west-1", Dial: 100, Alarm: "ALARM", Fault: "up"}
	tests := []struct {
		name       string
		action, to string
		status     func(context.Context) (runtime.Status, error)
		wantErr    string // "" = go ahead
		wantOut    string
		wantNoOut  bool
	}{
		{name: "failback with every Region at dial 0 healthy goes ahead at once, silently",
			action: "failback", status: statuses(regionsAt(use1OK, euw1)), wantNoOut: true},
		{name: "failback waits for the Region at dial 0 to recover, with progress",
			action: "failback", status: statuses(regionsAt(use1Alarm, euw1), regionsAt(use1Alarm, euw1), regionsAt(use1OK, euw1)),
			wantOut: "waiting up to 300ms for us-east-1 to be healthy: us-east-1 ALARM"},
		{name: "failback ignores an unhealthy Region that already has traffic",
			action: "failback", status: statuses(regionsAt(use1OK, euw1Alarm)), wantNoOut: true},
		{name: "a Region still faulted: not applied, names the fault and the command that clears it",
			action: "failback", status: statuses(regionsAt(use1Faulty, euw1)),
			wantErr: "us-east-1 ALARM (fault down) not healthy after 300ms"},
		{name: "the fault's fix is one command",
			action: "failback", status: statuses(regionsAt(use1Faulty, euw1)), wantErr: "mrapctl fault us-east-1 up, then: mrapctl failback"},
		{name: "failover --to an unhealthy Region says how to apply anyway",
			action: "failover", to: "eu-west-1", status: statuses(regionsAt(use1OK, euw1Alarm)),
			wantErr: "mrapctl failover --to eu-west-1 --wait 0"},
		{name: "failover --to an unknown Region is left to the runtime to refuse",
			action: "failover", to: "us-west-2", status: statuses(regionsAt(use1Alarm, euw1)), wantNoOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := waitHealthy(context.Background(), tt.status, tt.action, tt.to, 300*time.Millisecond, time.Millisecond, &out)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("waitHealthy: %v, want go ahead", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("waitHealthy: %v, want %q", err, tt.wantErr)
			}
			if tt.wantOut != "" && !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("progress = %q, want %q", out.String(), tt.wantOut)
			}
			if tt.wantNoOut && out.Len() > 0 {
				t.Errorf("progress = %q, want none", out.String())
			}
		})
	}
}

func TestWaitHealthyStopsOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st := regionsAt(runtime.RegionStatus{Region: "us-east-1", Alarm: "ALARM"})
	err := waitHealthy(ctx, statuses(st), "failback", "", time.Hour, time.Hour, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("waitHealthy after Ctrl-C: %v", err)
	}
}

func TestRoutingFlagsOnlyWhereTheyApply(t *testing.T) {
	tests := []struct {
		cmd       string
		want, not []string
	}{
		{cmd: "failover", want: []string{"-to", "-wait"}},
		{cmd: "failback", want: []string{"-wait"}, not: []string{"-to"}},
		{cmd: "drain", want: []string{"-dry-run"}, not: []string{"-to", "-wait"}},
		{cmd: "status", want: []string{"-watch", "-mrap-arn"}, not: []string{"-dry-run", "-to", "-wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			_ = run(context.Background(), []string{tt.cmd, "-h"}, &stdout, &stderr)
			help := stdout.String() + stderr.String()
			lists := func(f string) bool { return strings.Contains(help, "  "+f+" ") || strings.Contains(help, "  "+f+"\n") }
			for _, f := range tt.want {
				if !lists(f) {
					t.Errorf("%s -h lacks %s:\n%s", tt.cmd, f, help)
				}
			}
			for _, f := range tt.not {
				if lists(f) {
					t.Errorf("%s -h lists %s, which it does not take:\n%s", tt.cmd, f, help)
				}
			}
		})
	}
}
