package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/routing"
)

// deciderKey is the access key the deciders of the tests sign with: a write under
// mrapctl's own key (AKIDSTATUS) would be mrapctl writing a decider's record.
const deciderKey = "AKIDDECIDER"

// withDeciders makes every decider Region's failover engine (failover.NewAWS, as the
// function builds it) handle the events put on its bus, through the real SDK clients.
func withDeciders(t *testing.T, f *fakeAWS, st deployment.Settings) {
	t.Helper()
	dep := deployment.Deployment{Settings: st, AccessPointARN: testAPARN}
	engines := map[string]*failover.Engine{}
	for _, d := range dep.Deciders() {
		env := dep.Env(d)
		env["MRAP_CONTROL_ENDPOINT"] = f.srv.URL
		lookup := config.New(mapLookup(env))
		cfg := failover.LoadConfig(lookup, d)
		if err := lookup.Err(); err != nil {
			t.Fatal(err)
		}
		awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(d),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(deciderKey, testSecret, "")))
		if err != nil {
			t.Fatal(err)
		}
		if engines[d], err = failover.NewAWS(cfg, awsCfg, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.deliver = func(region string, ev []byte) {
		if e := engines[region]; e != nil {
			if _, err := e.HandleEvent(context.Background(), ev); err != nil {
				t.Logf("decider %s: %v", region, err)
			}
		}
	}
}

// mrapctlWrites are the writes signed with mrapctl's key other than PutEvents.
func (f *fakeAWS) mrapctlWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, w := range f.writes {
		if strings.HasPrefix(w, "AKIDSTATUS: ") && !strings.HasPrefix(w, "AKIDSTATUS: events ") {
			out = append(out, w)
		}
	}
	return out
}

func (f *fakeAWS) dial(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range f.table.Routes() {
		out[r.Region] = r.Dial
	}
	return out
}

func TestRoutingCommandOnAWSIsOneEventOnEveryDecidersBus(t *testing.T) {
	f, st := awsFixture(t)
	withDeciders(t, f, st)
	t.Setenv("USER", "alice")
	out, err := runCLI(t, "failover", "--to", "eu-west-1", "--reason", "game day", "--wait", "0", "--name", "mrap-engine", "--region", "us-east-1")
	if err != nil {
		t.Fatalf("failover: %v\n%s", err, out)
	}
	for _, s := range []string{"us-east-1: on the default bus", "eu-west-1: on the default bus", ": changed", "submitted", "eu-west-1       100"} {
		if !strings.Contains(out, s) {
			t.Errorf("output does not say %q:\n%s", s, out)
		}
	}
	if want := map[string]int{"us-east-1": 0, "eu-west-1": 100, "ap-southeast-2": 0}; !mapsEqual(f.dial(t), want) {
		t.Errorf("routes %v, want %v", f.dial(t), want)
	}
	// One event per decider Region, each the one the failover function reads, one command id.
	var ids []string
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if len(f.events[region]) != 1 {
			t.Fatalf("%s got %d events, want 1", region, len(f.events[region]))
		}
		tr, err := failover.ParseEvent([]byte(f.events[region][0]))
		if err != nil {
			t.Fatalf("the deciders cannot read the event of %s: %v\n%s", region, err, f.events[region][0])
		}
		want := routing.Command{Action: routing.Failover, Region: "eu-west-1", Reason: "game day", RequestedBy: callerARN}
		if tr.Kind != failover.TriggerCommand || tr.Command == nil || *tr.Command != want || tr.CommandID == "" || tr.CommandID == tr.EventID {
			t.Errorf("event of %s reads as %+v, want command %+v with its own command id", region, tr, want)
		}
		ids = append(ids, tr.CommandID)
	}
	if ids[0] != ids[1] || !strings.Contains(out, ids[0]) {
		t.Errorf("command ids %v: want one, printed", ids)
	}
	// The deciders wrote their records; mrapctl wrote none.
	if w := f.mrapctlWrites(); len(w) != 0 {
		t.Errorf("mrapctl wrote besides PutEvents: %v", w)
	}
	// The decider that applied it (whichever got it first; the other ignores it as applied).
	applied := ""
	for _, d := range []string{"us-east-1", "eu-west-1"} {
		var rec failover.Record
		if err := json.Unmarshal(f.objects["mrap-engine-state-"+testAccount+"-eu-west-1/.mrap-state/failover/deciders/"+d+".json"], &rec); err == nil && rec.LastCommandID == ids[0] {
			applied = d
			if rec.LastCommandOutcome != "changed" {
				t.Errorf("decider %s recorded outcome %q, want changed", d, rec.LastCommandOutcome)
			}
		}
	}
	if applied == "" || !strings.Contains(out, "decider "+applied+": changed") {
		t.Errorf("no decider record names command %s as the output says:\n%s", ids[0], out)
	}
	// status shows it afterwards.
	if out, err := runCLI(t, "status", "--name", "mrap-engine", "--region", "us-east-1"); err != nil ||
		!strings.Contains(out, "last command "+ids[0]) || !strings.Contains(out, "applied by the decider in "+applied+": changed") {
		t.Errorf("status after the command: %v\n%s", err, out)
	}
}

func TestRoutingCommandOnAWSReachesTheDecidersThatCanBeReached(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*fakeAWS)
		says string
	}{
		{"a decider Region down", func(f *fakeAWS) { f.failing["events/us-east-1"] = 503; f.failing["sts/us-east-1"] = 503 }, "us-east-1: NOT sent:"},
		{"an entry rejected by one Region", func(f *fakeAWS) { f.reject["us-east-1"] = "ThrottlingException" }, "us-east-1: NOT sent: entry rejected: ThrottlingException: injected rejection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, st := awsFixture(t)
			withDeciders(t, f, st)
			t.Setenv("USER", "alice")
			tc.fail(f)
			out, err := runCLI(t, "failover", "--to", "eu-west-1", "--wait", "0", "--name", "mrap-engine", "--region", "us-east-1")
			if err != nil {
				t.Fatalf("failover: %v\n%s", err, out)
			}
			if !strings.Contains(out, tc.says) || !strings.Contains(out, "eu-west-1: on the default bus") || !strings.Contains(out, "decider eu-west-1: changed") {
				t.Errorf("output:\n%s", out)
			}
			if f.dial(t)["eu-west-1"] != 100 || f.dial(t)["us-east-1"] != 0 {
				t.Errorf("routes %v after the command", f.dial(t))
			}
			// The caller's ARN requests it; without STS, the user's name.
			want := callerARN
			if f.failing["sts/us-east-1"] != 0 {
				want = "mrapctl:alice"
			}
			if tr, err := failover.ParseEvent([]byte(f.events["eu-west-1"][0])); err != nil || tr.Command == nil || tr.Command.RequestedBy != want {
				t.Errorf("requested by %+v (%v), want %q", tr.Command, err, want)
			}
		})
	}
}

func TestRoutingCommandOnAWSThatNoRegionAcceptsIsAnError(t *testing.T) {
	f, st := awsFixture(t)
	withDeciders(t, f, st)
	f.failing["events/us-east-1"] = 503
	f.reject["eu-west-1"] = "AccessDeniedException"
	out, err := runCLI(t, "drain", "ap-southeast-2", "--name", "mrap-engine", "--region", "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "no decider Region accepted") || !strings.Contains(err.Error(), "events:PutEvents") {
		t.Fatalf("got %v; output:\n%s", err, out)
	}
	if w := f.mrapctlWrites(); len(w) != 0 || len(f.events) != 0 {
		t.Errorf("writes %v, events delivered %v", w, f.events)
	}
}

func TestRoutingCommandOnAWSRefusedByTheDecidersExitsOne(t *testing.T) {
	f, st := awsFixture(t)
	withDeciders(t, f, st)
	// us-east-1 is in quorum ALARM: a failover to it is refused.
	out, err := runCLI(t, "failover", "--to", "us-east-1", "--wait", "0", "--name", "mrap-engine", "--region", "us-east-1")
	var ec exitCode
	if !errors.As(err, &ec) || ec != 1 {
		t.Fatalf("got %v, want exit code 1; output:\n%s", err, out)
	}
	if !strings.Contains(out, ": refused") || !strings.Contains(out, "refused: ") || !strings.Contains(out, "ALARM") {
		t.Errorf("output does not say the refusal and why:\n%s", out)
	}
	if f.dial(t)["us-east-1"] != 100 {
		t.Errorf("routes changed by a refused command: %v", f.dial(t))
	}
}

func TestRoutingCommandOnAWSThatNoDeciderRecordsTimesOut(t *testing.T) {
	f, _ := awsFixture(t) // the events are put, but no decider handles them
	out, err := runCLI(t, "failback", "--wait", "0", "--outcome-timeout", "1s", "--name", "mrap-engine", "--region", "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "no decider recorded command") || !strings.Contains(err.Error(), "failover function's logs") ||
		!strings.Contains(err.Error(), "us-east-1, eu-west-1") {
		t.Fatalf("got %v; output:\n%s", err, out)
	}
	if len(f.events["us-east-1"]) != 1 || len(f.events["eu-west-1"]) != 1 {
		t.Errorf("events put: %v", f.events)
	}
	// --outcome-timeout 0 sends and returns.
	if out, err := runCLI(t, "failback", "--wait", "0", "--outcome-timeout", "0", "--name", "mrap-engine", "--region", "us-east-1"); err != nil || !strings.Contains(out, "not waiting") {
		t.Errorf("--outcome-timeout 0: %v\n%s", err, out)
	}
}

func TestDryRunOnAWSWritesNothing(t *testing.T) {
	f, st := awsFixture(t)
	withDeciders(t, f, st)
	out, err := runCLI(t, "failover", "--to", "eu-west-1", "--dry-run", "--wait", "0", "--name", "mrap-engine", "--region", "us-east-1", "--decider", "eu-west-1")
	if err != nil {
		t.Fatalf("failover: %v\n%s", err, out)
	}
	if !strings.Contains(out, "as decider eu-west-1 would") || !strings.Contains(out, "DRY RUN, nothing submitted: command failover eu-west-1") || !strings.Contains(out, "eu-west-1       100") {
		t.Errorf("output:\n%s", out)
	}
	// No record, no routes, no audit, no event: the server saw only reads.
	if len(f.writes) != 0 || len(f.topics) != 0 || len(f.events) != 0 {
		t.Errorf("a dry run wrote: %v, published to %v, put %v", f.writes, f.topics, f.events)
	}
	if !slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "s3 ") && strings.Contains(c, "/deciders/") }) {
		t.Errorf("the dry run read no decider record: %v", f.calls)
	}
}

func TestCommandEntryIsRejectedWhenIncomplete(t *testing.T) {
	if _, err := commandEntry(events.RoutingCommandDetail{Action: "drain", CommandID: "c-1"}, time.Now()); err == nil {
		t.Error("a drain without a Region made an entry")
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestFindCommandReadsTheOutcomeFromTheRecords(t *testing.T) {
	rec := func(d, id, outcome string) failover.Record {
		return failover.Record{Decider: d, Seq: 1, LastCommandID: id, LastCommandOutcome: outcome, LastCommandReason: d + " " + outcome}
	}
	deciders := []string{"us-east-1", "eu-west-1"}
	for _, tc := range []struct {
		name    string
		records []failover.Record
		want    commandOutcome
	}{
		{"no record names it: nothing yet", []failover.Record{rec("us-east-1", "other", "changed")}, commandOutcome{}},
		{"an intent alone is not an outcome", []failover.Record{rec("us-east-1", "c-1", failover.CommandIntent)}, commandOutcome{decider: "us-east-1", intent: true}},
		{"the applied change wins over an unchanged", []failover.Record{rec("us-east-1", "c-1", "unchanged"), rec("eu-west-1", "c-1", "changed")},
			commandOutcome{decider: "eu-west-1", outcome: "changed", reason: "eu-west-1 changed"}},
		{"a final outcome wins over an intent", []failover.Record{rec("us-east-1", "c-1", failover.CommandIntent), rec("eu-west-1", "c-1", "refused")},
			commandOutcome{decider: "eu-west-1", outcome: "refused", reason: "eu-west-1 refused"}},
		{"a record without an outcome (older decider) counts as applied", []failover.Record{rec("eu-west-1", "c-1", "")},
			commandOutcome{decider: "eu-west-1", reason: "eu-west-1 "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := findCommand(failover.Merge(tc.records), deciders, "c-1"); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
