package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

func baseEnv() map[string]string {
	return map[string]string{
		"AWS_REGION":        "us-east-1",
		"MRAP_MEMBERS":      "us-east-1=data-use1,eu-west-1=data-euw1",
		"MRAP_ACCOUNT_ID":   "123456789012",
		"MRAP_ARN":          "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
		"MRAP_ALARM_PREFIX": "mrap-",
		"MRAP_WITNESSES":    "us-west-2",
		"MRAP_DECIDERS":     "us-east-1,eu-west-1",
		"MRAP_STATE_COPIES": "us-east-1=state-use1,eu-west-1=state-euw1,us-west-2=state-usw2",
	}
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSetupWiresTheEngine(t *testing.T) {
	e, err := failover.Setup(context.Background(), lookup(baseEnv()), &bytes.Buffer{}, telemetry.Discard())
	if err != nil || e == nil {
		t.Fatalf("Setup: %v", err)
	}
	// A malformed event is rejected before any AWS call.
	out, err := failover.Handler(e)(context.Background(), json.RawMessage(`{"source":"aws.s3","detail-type":"Object Created"}`))
	if err == nil || !strings.Contains(err.Error(), "unknown event") || out.Submitted {
		t.Errorf("handler = %+v, %v; want an unknown-event error", out, err)
	}
}

func TestSetupReportsConfigurationProblems(t *testing.T) {
	env := baseEnv()
	delete(env, "AWS_REGION")
	env["MRAP_ROUTING_MODE"] = "active-passive"
	_, err := failover.Setup(context.Background(), lookup(env), &bytes.Buffer{}, telemetry.Discard())
	for _, want := range []string{"AWS_REGION: is required", "active-passive needs a priority order"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

// TestBootstrapUnderLambdaRIE builds the function as Lambda runs it and invokes it through
// the Runtime Interface Emulator with events that need no AWS call.
func TestBootstrapUnderLambdaRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: builds the bootstrap and runs the Lambda RIE")
	}
	url := startRIE(t, baseEnv())
	tests := []struct {
		name, event, want string
		wantError         bool
	}{
		{"not json", "not json", "errorMessage", true},
		{"unknown event", `{"version":"0","id":"1","source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, `unknown event: source \"aws.ec2\"`, true},
		{"health event not about S3", string(readFile(t, "../../events/testdata/health-ec2-scheduled.json")), `"ignored":true`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := invoke(t, url, tt.event)
			if !strings.Contains(body, tt.want) || strings.Contains(body, "errorMessage") != tt.wantError {
				t.Errorf("response %s, want it to contain %s (error %v)", body, tt.want, tt.wantError)
			}
		})
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRIE builds ./bootstrap, starts aws-lambda-rie on free ports with env and returns the
// invocation URL.
func startRIE(t *testing.T, env map[string]string) string {
	t.Helper()
	rie := filepath.Join("..", "..", "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		if rie, err = exec.LookPath("aws-lambda-rie"); err != nil {
			t.Fatalf("aws-lambda-rie not found (make tools): %v", err)
		}
	}
	rie, _ = filepath.Abs(rie)
	dir := t.TempDir()
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bootstrap: %v\n%s", err, out)
	}
	port, apiPort := freePort(t), freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port), "--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), "./bootstrap")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=SECRET"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("RIE output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RIE did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port)
}

func invoke(t *testing.T, url, event string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}
