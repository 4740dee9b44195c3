package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMrapctlUpAndStop runs the mrapctl binary as a user would: up in the foreground,
// status, fault, a second up on the same port refused, a second up on the same data folder
// refused without touching it, and Ctrl-C leaving nothing running.
func TestMrapctlUpAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mrapctl and starts versitygw")
	}
	bin := filepath.Join(t.TempDir(), "mrapctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/mrapctl").CombinedOutput(); err != nil {
		t.Fatalf("build mrapctl: %v\n%s", err, out)
	}
	data := t.TempDir()
	var upOut syncBuffer
	up := exec.Command(bin, "up", "--data", data, "--global-port", "0", "--control-port", "0", "--quiet")
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	t.Cleanup(func() { _ = up.Process.Kill() })

	var ep runtime.Endpoints
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if ep, err = runtime.ReadEndpoints(data); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("mrapctl up exited early: %v\n%s", err, upOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no endpoints.json after 30s\n%s", upOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// endpoints.json is written just before the summary is printed: give the print a moment.
	for i := 0; i < 50 && !strings.Contains(upOut.String(), ep.MRAPAlias); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(upOut.String(), "ready in") || !strings.Contains(upOut.String(), ep.MRAPAlias) {
		t.Errorf("start-up summary lacks the ready line or the alias:\n%s", upOut.String())
	}

	ctl := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data", data)...).CombinedOutput()
		return string(out), err
	}
	if out, err := ctl("fault", "eu-west-1", "slow"); err != nil || !strings.Contains(out, "eu-west-1: every request waits") {
		t.Fatalf("fault: %v\n%s", err, out)
	}
	out, err := ctl("status", "--json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st runtime.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Regions) != 3 || st.Regions[1].Fault != "slow" || st.MRAPARN != ep.MRAPARN {
		t.Fatalf("status --json = %s (%v)", out, err)
	}
	if out, err := ctl("status"); err != nil || !strings.Contains(out, "REGION") || !strings.Contains(out, "ap-southeast-2") {
		t.Errorf("status table: %v\n%s", err, out)
	}

	var ee *exec.ExitError
	// fault down, then up and failback at once: failback waits for the Region to be healthy
	// again (its alarm clears a few probes later), then applies.
	dialOf := func(region string) int {
		out, err := ctl("status", "--json")
		if err != nil {
			t.Fatalf("status: %v\n%s", err, out)
		}
		var st runtime.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v", err)
		}
		for _, r := range st.Regions {
			if r.Region == region {
				return r.Dial
			}
		}
		t.Fatalf("no %s in status", region)
		return -1
	}
	for _, args := range [][]string{{"fault", "eu-west-1", "up"}, {"fault", "us-east-1", "down"}} {
		if out, err := ctl(args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); dialOf("us-east-1") != 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("us-east-1 still has traffic 30s after fault down")
		}
	}
	if out, err := ctl("fault", "us-east-1", "up"); err != nil {
		t.Fatalf("fault up: %v\n%s", err, out)
	}
	if out, err := ctl("failback"); err != nil || !strings.Contains(out, "waiting up to 30s for us-east-1 to be healthy") ||
		!strings.Contains(out, "routes changed") {
		t.Errorf("failback right after fault up: %v\n%s", err, out)
	}
	if d := dialOf("us-east-1"); d != 100 {
		t.Errorf("us-east-1 dial after failback = %d, want 100", d)
	}

	// SIGTERM to a drill still in its preflight (the failback above started a cooldown): it
	// stops at once, says "interrupted", exits non-zero, and does not blame the runtime.
	var drillOut syncBuffer
	dr := exec.Command(bin, "drill", "--data", data)
	dr.Stdout, dr.Stderr = &drillOut, &drillOut
	if err := dr.Start(); err != nil {
		t.Fatal(err)
	}
	drillDone := make(chan error, 1)
	go func() { drillDone <- dr.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(drillOut.String(), "preflight"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("drill printed no preflight in 10s:\n%s", drillOut.String())
		}
	}
	time.Sleep(300 * time.Millisecond) // into its waiting
	if err := dr.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termAt := time.Now()
	select {
	case err := <-drillDone:
		t.Logf("drill exited %s after SIGTERM: %v\n%s", time.Since(termAt).Round(time.Millisecond), err, drillOut.String())
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("drill after SIGTERM: %v, want exit status 130", err)
		}
	case <-time.After(10 * time.Second):
		_ = dr.Process.Kill()
		t.Fatalf("drill still running 10s after SIGTERM:\n%s", drillOut.String())
	}
	if o := drillOut.String(); !strings.Contains(o, "interrupted") || strings.Contains(o, "not answering") || strings.Contains(o, "MISS") {
		t.Errorf("drill output after SIGTERM:\n%s", o)
	}

	port := ep.ControlEndpoint[strings.LastIndex(ep.ControlEndpoint, ":")+1:]
	second, err := exec.Command(bin, "up", "--data", t.TempDir(), "--global-port", "0", "--control-port", port).CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(second), "already in use") {
		t.Errorf("second up on port %s: %v\n%s", port, err, second)
	}

	// A second up on the same data folder, with free ports so only the lock can stop it:
	// refused, naming the running instance, and the running instance's files untouched.
	before, err := os.ReadFile(filepath.Join(data, "endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ports := range [][]string{{"--global-port", "0", "--control-port", "0"}, {}} {
		same, err := exec.Command(bin, append([]string{"up", "--data", data}, ports...)...).CombinedOutput()
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(same), "used by another local runtime") ||
			!strings.Contains(string(same), fmt.Sprintf("pid %d", up.Process.Pid)) || strings.Contains(string(same), "starting") {
			t.Errorf("second up on the same folder %v: %v\n%s", ports, err, same)
		}
		after, err := os.ReadFile(filepath.Join(data, "endpoints.json"))
		if err != nil || string(after) != string(before) {
			t.Errorf("endpoints.json after a refused second start = %q (%v), want it unchanged", after, err)
		}
	}
	if out, err := ctl("status"); err != nil || !strings.Contains(out, "ap-southeast-2") {
		t.Errorf("status after a refused second start: %v\n%s", err, out)
	}

	if err := up.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("mrapctl up after Ctrl-C: %v\n%s", err, upOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("mrapctl up did not stop within 20s of Ctrl-C")
	}
	if _, err := os.Stat(filepath.Join(data, "endpoints.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("endpoints.json left behind after stop: %v", err)
	}
	for _, r := range ep.Regions {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(r.Endpoint, "http://"), time.Second); err == nil {
			c.Close()
			t.Errorf("%s endpoint still accepts connections after stop", r.Region)
		}
	}
	for _, f := range []string{"routes.json", "identity.json", "runtime.log"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("%s not kept in the data folder: %v", f, err)
		}
	}
}

// TestMrapctlAWSModeAgainstLocalStandIns runs `mrapctl failover --mrap-arn ...` in AWS mode:
// settings from the MRAP_* environment of the failover function; the command event goes
// through the real EventBridge client to the local default bus of each decider Region (the
// runtime's PutEvents stand-in), where the runtime's deciders apply it with the failover
// function's code; mrapctl reads the outcome from the state copies (the member buckets,
// StateInBuckets) and the routes from the local routes API. CloudWatch is unreachable, so
// every Region's health is INSUFFICIENT_DATA for mrapctl, which the default policy ignores.
func TestMrapctlAWSModeAgainstLocalStandIns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mrapctl and starts versitygw")
	}
	bin := filepath.Join(t.TempDir(), "mrapctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/mrapctl").CombinedOutput(); err != nil {
		t.Fatalf("build mrapctl: %v\n%s", err, out)
	}
	opts := fastOptions(t.TempDir(), io.Discard)
	opts.Regions = []string{"us-east-1", "eu-west-1"}
	opts.StateInBuckets = true
	rt, err := runtime.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ep := rt.Endpoints()
	var members, endpoints []string
	for _, r := range ep.Regions {
		members = append(members, r.Region+"="+r.Bucket) // the member buckets also hold the state copies
		endpoints = append(endpoints, r.Region+"="+r.Endpoint)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_ACCESS_KEY_ID=" + ep.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ep.SecretAccessKey, "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_CLOUDWATCH=http://127.0.0.1:1", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1",
		"MRAP_MEMBERS=" + strings.Join(members, ","), "MRAP_ENDPOINTS=" + strings.Join(endpoints, ","), "MRAP_STATE_COPIES=" + strings.Join(members, ","),
		"MRAP_CONTROL_ENDPOINT=" + ep.ControlEndpoint, "MRAP_ALARM_PREFIX=mrap-", "MRAP_COOLDOWN=1s",
		"MRAP_DECIDERS=us-east-1,eu-west-1", "AWS_ENDPOINT_URL_EVENTBRIDGE=" + ep.ControlEndpoint, "AWS_ENDPOINT_URL_STS=http://127.0.0.1:1",
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--mrap-arn", ep.MRAPARN)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// --wait 0: CloudWatch is unreachable, so no Region is ever in quorum OK to wait for.
	out, err := run("failover", "--to", "eu-west-1", "--reason", "aws-mode test", "--wait", "0")
	if err != nil || !strings.Contains(out, "routes changed") || !strings.Contains(out, "us-east-1: on the default bus") || !strings.Contains(out, "eu-west-1: on the default bus") {
		t.Fatalf("failover in AWS mode: %v\n%s", err, out)
	}
	// A local decider applied it and recorded the command (mrapctl runs no decider).
	if st := rt.Status(); st.Overrides.Pinned != "eu-west-1" || st.LastDecider == "" || !strings.Contains(out, ": changed") {
		t.Errorf("the deciders' state (pin %q, last change by %q) is not the command's:\n%s", st.Overrides.Pinned, st.LastDecider, out)
	}
	if st := rt.Status(); st.Regions[0].Dial != 0 || st.Regions[1].Dial != 100 {
		t.Errorf("routes after AWS-mode failover: %+v", st.Regions)
	}
	if out, err := run("status"); err != nil || !strings.Contains(out, "eu-west-1") || !strings.Contains(out, "(AWS)") {
		t.Errorf("status in AWS mode: %v\n%s", err, out)
	}
	// The failover pinned eu-west-1 in the deciders' records: draining it is refused, and
	// mrapctl reads the refusal from the records.
	out, err = run("drain", "eu-west-1")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "refused") || !strings.Contains(out, "pinned") {
		t.Errorf("drain of the pinned Region: %v\n%s", err, out)
	}
	if st := rt.Status(); st.Regions[1].Dial != 100 {
		t.Errorf("eu-west-1 dial after the refused drain = %d, want 100", st.Regions[1].Dial)
	}
}
