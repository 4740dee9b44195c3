package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/deployment/deploymenttest"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
)

const (
	testAccount = "123456789012"
	testAPARN   = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// awsFixture is a deployment of three members, two deciders and a witness on a fakeAWS,
// with the environment a user has: credentials in the variables, no Region, the SDK's
// endpoint pointed at the fake.
func awsFixture(t *testing.T) (*fakeAWS, deployment.Settings) {
	t.Helper()
	st := deploymenttest.Settings("mrap-engine", testAccount, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, []string{"us-east-1", "eu-west-1"}, "us-east-2")
	f := newFakeAWS(t, st, testAPARN)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": f.srv.URL, "MRAP_CONTROL_ENDPOINT": f.srv.URL,
		"AWS_ACCESS_KEY_ID": "AKIDSTATUS", "AWS_SECRET_ACCESS_KEY": testSecret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_MAX_ATTEMPTS": "1",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	prefix := st.Env["MRAP_ALARM_PREFIX"]
	for _, o := range []string{"eu-west-1", "ap-southeast-2", "us-east-2"} {
		f.alarm(prefix, "us-east-1", o, "ALARM")
	}
	for _, o := range []string{"us-east-1", "ap-southeast-2", "us-east-2"} {
		f.alarm(prefix, "eu-west-1", o, "OK")
	}
	for _, o := range []string{"us-east-1", "eu-west-1", "us-east-2"} {
		f.alarm(prefix, "ap-southeast-2", o, "OK")
	}
	for _, r := range []string{"us-east-1", "eu-west-1"} { // ap-southeast-2's queues are missing
		f.queues["mrap-engine-replication-"+r] = [2]int{5, 2}
		f.queues["mrap-engine-replication-dlq-"+r] = [2]int{1, 0}
	}
	f.metrics["us-east-1/avg"], f.metrics["us-east-1/max"], f.metrics["us-east-1/sum"] = 120, 900, 42
	rec := failover.Record{Decider: "us-east-1", Seq: 3, Heartbeat: time.Date(2026, 12, 1, 23, 40, 0, 0, time.UTC),
		LastChange: time.Date(2026, 12, 1, 23, 1, 0, 0, time.UTC), LastReason: "evacuate us-east-1 (quorum ALARM)",
		LastRoutes:   map[string]int{"us-east-1": 0, "eu-west-1": 100, "ap-southeast-2": 100},
		LastDecision: failover.LastDecision{Time: time.Date(2026, 12, 1, 23, 40, 0, 0, time.UTC), Kind: "none", Outcome: "no-change", Reason: "routes match the policy"}}
	body, _ := json.Marshal(rec)
	for _, r := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
		f.put("mrap-engine-state-"+testAccount+"-"+r+"/.mrap-state/failover/deciders/us-east-1.json", body)
	}
	f.failing["monitoring/ap-southeast-2"] = 403 // its alarms and metrics cannot be read
	return f, st
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if strings.Contains(out, testSecret) {
		t.Errorf("the output shows the secret key:\n%s", out)
	}
	return out, err
}

func TestStatusOnAWSFindsTheDeploymentByName(t *testing.T) {
	f, _ := awsFixture(t)
	out, err := runCLI(t, "--name", "mrap-engine", "--region", "us-east-1", "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{
		"access point " + testAPARN + " (AWS)\nsettings from CloudFormation in us-east-1",
		"us-east-1       100   ALARM   2026-12-01T23:00:00Z  5        2          1             42",
		"120ms/900ms",
		"ap-southeast-2  100   OK",
		"  ap-southeast-2  UNREADABLE  UNREADABLE  UNREADABLE",
		"  us-east-2       ALARM       OK          OK",
		"us-east-1  heartbeat 2026-12-01T23:40:00Z  2026-12-01T23:40:00Z  none no-change  routes match the policy",
		"eu-west-1  no record",
		"last routing change 2026-12-01T23:01:00Z by the decider in us-east-1: evacuate us-east-1 (quorum ALARM)",
		"replication queue ap-southeast-2: queue mrap-engine-replication-ap-southeast-2",
		"replication metrics ap-southeast-2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}
	if !f.keys["AKIDSTATUS"] {
		t.Errorf("credentials from the environment not used: %v", f.keys)
	}
}

func TestStatusOnAWSPrintsJSON(t *testing.T) {
	awsFixture(t)
	out, err := runCLI(t, "status", "--json", "--name", "mrap-engine", "--region", "us-east-1")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rep awsStatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	us := rep.Regions[0]
	if rep.Name != "mrap-engine" || us.Region != "us-east-1" || us.Health != "ALARM" || *us.Dial != 100 || *us.Backlog != 5 || *us.DeadLetters != 1 || *us.LatencyMaxMs != 900 {
		t.Errorf("got %+v / %+v", rep, us)
	}
	if rep.Regions[2].Backlog != nil || rep.LastChangeBy != "us-east-1" || len(rep.Unreadable) != 1 || len(rep.Problems) != 3 {
		t.Errorf("want ap-southeast-2's backlog unknown, the change by us-east-1, one unreadable observer and three problems; got %+v", rep)
	}
}

func TestAWSCommandsUseTheProfile(t *testing.T) {
	f, _ := awsFixture(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	creds := "[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = " + testSecret + "\n"
	if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[profile ops]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "--profile", "ops", "--name", "mrap-engine", "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !f.keys["AKIDPROFILE"] || f.keys["AKIDSTATUS"] {
		t.Errorf("want only the profile's key, got %v", f.keys)
	}
}

func TestAWSCommandsSayWhatIsMissing(t *testing.T) {
	awsFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"no Region", []string{"--name", "mrap-engine", "status"}, []string{"no Region to look the stacks up in: pass --region"}},
		{"an unknown name", []string{"--name", "other", "--region", "us-east-1", "status"},
			[]string{"no control stack of \"other\" in us-east-1", "mrap-engine-control-us-east-1 (MrapName=mrap-engine)"}},
		{"a Region that is not the home Region", []string{"--name", "mrap-engine", "--region", "eu-west-1", "status"},
			[]string{"mrap-engine-decider-eu-west-1 (MrapName=mrap-engine)", "the control stack is in the home Region: pass --region HOME"}},
		{"a Region never bootstrapped", []string{"--name", "mrap-engine", "--region", "sa-east-1", "failback"},
			[]string{"run cdk bootstrap aws://ACCOUNT/sa-east-1"}},
		{"a decider that is none", []string{"drain", "eu-west-1", "--name", "mrap-engine", "--region", "us-east-1", "--decider", "us-east-2"},
			[]string{"--decider us-east-2 is not one of the deciders us-east-1, eu-west-1"}},
		{"both ways at once", []string{"status", "--name", "mrap-engine", "--mrap-arn", testAPARN}, []string{"give one or the other"}},
		{"an outputs file that is not there", []string{"status", "--outputs", "/nonexistent/cdk-outputs.json"}, []string{"outputs file: open /nonexistent/cdk-outputs.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, tc.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestRedriveOnAWSMovesEveryDeadLetterQueueToItsRegionsQueue(t *testing.T) {
	f, _ := awsFixture(t)
	out, err := runCLI(t, "redrive", "--name", "mrap-engine", "--region", "us-east-1")
	if err != nil {
		t.Fatalf("redrive: %v\n%s", err, out)
	}
	want := []string{
		"arn:aws:sqs:us-east-1:123456789012:mrap-engine-replication-dlq-us-east-1 -> arn:aws:sqs:us-east-1:123456789012:mrap-engine-replication-us-east-1",
		"arn:aws:sqs:eu-west-1:123456789012:mrap-engine-replication-dlq-eu-west-1 -> arn:aws:sqs:eu-west-1:123456789012:mrap-engine-replication-eu-west-1",
		"arn:aws:sqs:ap-southeast-2:123456789012:mrap-engine-replication-dlq-ap-southeast-2 -> arn:aws:sqs:ap-southeast-2:123456789012:mrap-engine-replication-ap-southeast-2",
	}
	if !slices.Equal(f.moves, want) {
		t.Errorf("moves:\n%s\nwant\n%s", strings.Join(f.moves, "\n"), strings.Join(want, "\n"))
	}
}

func TestRoutingCommandsOnAWSWaitForTheRegionsTheyAddTraffic(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"failover to a Region in quorum ALARM", []string{"failover", "--to", "us-east-1", "--wait", "1s"},
			"not applied: us-east-1 ALARM not healthy after 1s"},
		{"failback that would return traffic to a Region in ALARM", []string{"failback", "--wait", "1s"},
			"not applied: us-east-1 ALARM not healthy after 1s, and failback would not add traffic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := awsFixture(t)
			if err := f.table.Submit([]routesapi.Update{{Region: "us-east-1", Dial: 0}}); err != nil {
				t.Fatal(err)
			}
			out, err := runCLI(t, append(tc.args, "--name", "mrap-engine", "--region", "us-east-1")...)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %q; output:\n%s", err, tc.says, out)
			}
			if !strings.Contains(out, "waiting up to 1s for us-east-1 to be healthy: us-east-1 ALARM") {
				t.Errorf("no progress line:\n%s", out)
			}
			if len(f.topics) != 0 || len(f.events) != 0 {
				t.Errorf("a refused wait sent the command: audit to %v, events %v", f.topics, f.events)
			}
		})
	}
}

func TestStatusOnAWSWatchRedrawsWithoutFindingTheDeploymentAgain(t *testing.T) {
	f, _ := awsFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--name", "mrap-engine", "--region", "us-east-1", "status", "--watch", "20ms"}, &stdout, io.Discard)
	}()
	for deadline := time.Now().Add(10 * time.Second); strings.Count(stdout.String(), "access point ") < 3 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("status --watch: %v", err)
	}
	if n := strings.Count(stdout.String(), "access point "); n < 3 {
		t.Errorf("%d redraws, want at least 3", n)
	}
	control := 0
	for _, c := range f.cf.Calls() {
		if strings.HasSuffix(c, "DescribeStacks mrap-engine-control-us-east-1") {
			control++
		}
	}
	if control != 1 {
		t.Errorf("the control stack was read %d times, want once", control)
	}
}

// lockedBuffer is a buffer written by the command and read by the test at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStatusOnAWSFromTheOutputsFileMakesNoCloudFormationCall(t *testing.T) {
	f, st := awsFixture(t)
	file := map[string]map[string]string{}
	for _, ref := range st.Stacks {
		if outs := deploymenttest.Outputs(st, ref, testAPARN, testAccount); len(outs) > 0 { // as cdk deploy --outputs-file writes it
			file[ref.Name] = outs
		}
	}
	raw, _ := json.Marshal(file)
	path := filepath.Join(t.TempDir(), "cdk-outputs.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "--outputs", path, "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "settings from outputs file "+path) || !strings.Contains(out, "us-east-1       100   ALARM") {
		t.Errorf("output:\n%s", out)
	}
	if n := countCalls(f, "cloudformation"); n != 0 {
		t.Errorf("%d CloudFormation calls, want none", n)
	}
}

func countCalls(f *fakeAWS, service string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, service+" ") {
			n++
		}
	}
	return n
}

// Without a Region and without credentials, the Region is said first: the credentials
// cannot be used before it is given anyway.
func TestNoRegionIsSaidBeforeNoCredentials(t *testing.T) {
	awsFixture(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	_, err := runCLI(t, "--name", "mrap-engine", "status")
	if err == nil || !strings.Contains(err.Error(), "no Region to look the stacks up in: pass --region") {
		t.Errorf("error %v, want the missing Region named", err)
	}
}
