package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// fakeRoutes is a recording routes API over one table.
type fakeRoutes struct {
	routes    []mrap.Route
	getErr    error
	submitErr error
	gets      int
	submits   []map[string]int
}

func (f *fakeRoutes) GetRoutes(context.Context) ([]mrap.Route, error) {
	f.gets++
	if f.getErr != nil {
		return nil, f.getErr
	}
	return append([]mrap.Route(nil), f.routes...), nil
}

func (f *fakeRoutes) SubmitRoutes(_ context.Context, current []mrap.Route, desired map[string]int) (mrap.SubmitResult, error) {
	f.submits = append(f.submits, desired)
	if f.submitErr != nil {
		return mrap.SubmitResult{}, f.submitErr
	}
	changes, err := mrap.Changes(current, desired)
	if err != nil {
		return mrap.SubmitResult{}, err
	}
	for _, c := range changes {
		for i := range f.routes {
			if f.routes[i].Region == c.Region {
				f.routes[i].Dial = c.Dial
			}
		}
	}
	return mrap.SubmitResult{ControlRegion: "us-east-1", Sent: changes, After: f.routes}, nil
}

// fakeHealth returns a fixed quorum view: every observer read.
type fakeHealth struct {
	health map[string]routing.RegionHealth
	err    error
	reads  int
	// read, when set, is the number of observers read of observers (default 3 of 3).
	read, observers int
}

func (f *fakeHealth) Read(context.Context) (health.View, error) {
	f.reads++
	if f.err != nil {
		return health.View{}, f.err
	}
	v := health.View{Health: maps.Clone(f.health), Observers: 3, ObserversRead: 3}
	if f.observers > 0 {
		v.Observers, v.ObserversRead = f.observers, f.read
	}
	return v, nil
}

// countingStore counts the puts into a docstore.Memory.
type countingStore struct {
	*docstore.Memory
	puts *int
}

func (c countingStore) Put(ctx context.Context, key string, body []byte, cond docstore.Cond) (string, error) {
	etag, err := c.Memory.Put(ctx, key, body, cond)
	if err == nil {
		*c.puts++
	}
	return etag, err
}

type fakeNotifier struct{ subjects, messages []string }

func (f *fakeNotifier) Notify(_ context.Context, subject, message string) error {
	f.subjects = append(f.subjects, subject)
	f.messages = append(f.messages, message)
	return nil
}

var now = time.Date(2026, 11, 25, 17, 31, 0, 0, time.UTC)

type rig struct {
	routes   *fakeRoutes
	health   *fakeHealth
	copies   map[string]*docstore.Memory
	puts     int
	notifier *fakeNotifier
	metrics  bytes.Buffer
	logs     bytes.Buffer
	engine   *Engine
}

func newRig(t *testing.T, policy routing.Policy, dryRun bool, health map[string]routing.RegionHealth) *rig {
	t.Helper()
	r := &rig{
		routes: &fakeRoutes{routes: []mrap.Route{
			{Bucket: "data-euw1", Region: "eu-west-1", Dial: 100},
			{Bucket: "data-use1", Region: "us-east-1", Dial: 100},
			{Bucket: "data-usw2", Region: "us-west-2", Dial: 100},
		}},
		health:   &fakeHealth{health: health},
		copies:   map[string]*docstore.Memory{},
		notifier: &fakeNotifier{},
	}
	copies := StateCopies{}
	for _, region := range []string{"us-east-1", "eu-west-1", "us-west-2"} {
		r.copies[region] = docstore.NewMemory()
		copies[region] = countingStore{r.copies[region], &r.puts}
	}
	e, err := New(r.routes, r.health, copies, Options{
		Decider:  "us-east-1",
		Deciders: []string{"us-east-1", "us-west-2"},
		Regions:  []string{"us-east-1", "eu-west-1", "us-west-2"},
		Policy:   policy,
		DryRun:   dryRun,
		Notifier: r.notifier,
		Metrics:  telemetry.NewMetrics(&r.metrics, ""),
		Logger:   slog.New(slog.NewJSONHandler(&r.logs, nil)),
		Now:      func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.engine = e
	return r
}

// state is the merged state of every copy.
func (r *rig) state(t *testing.T) State {
	t.Helper()
	st, err := r.engine.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// setLastChange makes decider us-west-2 have recorded a change at at in every copy.
func (r *rig) setLastChange(t *testing.T, at time.Time) {
	t.Helper()
	b, _ := json.Marshal(Record{Decider: "us-west-2", Seq: 1, Heartbeat: at, LastChange: at, LastReason: "earlier change"})
	for _, c := range r.copies {
		if _, err := c.Put(context.Background(), RecordKey(DefaultPrefix, "us-west-2"), b, docstore.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
}

func readFixtureFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "events", "testdata", name))
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readFixtureFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func allOK() map[string]routing.RegionHealth {
	return map[string]routing.RegionHealth{
		"us-east-1": {State: routing.OK, Since: now.Add(-time.Hour)},
		"eu-west-1": {State: routing.OK, Since: now.Add(-time.Hour)},
		"us-west-2": {State: routing.OK, Since: now.Add(-time.Hour)},
	}
}

func euAlarm() map[string]routing.RegionHealth {
	h := allOK()
	h["eu-west-1"] = routing.RegionHealth{State: routing.Alarm, Since: now.Add(-time.Minute), Detail: "ALARM: mrap-eu-west-1-canary-availability"}
	return h
}

func aaPolicy() routing.Policy {
	return routing.Policy{Mode: routing.ActiveActive, Cooldown: 5 * time.Minute, FailbackWindow: 15 * time.Minute}
}

// emf decodes the metric lines.
func emf(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestAlarmEventFailsOverAndAudits(t *testing.T) {
	r := newRig(t, aaPolicy(), false, euAlarm())
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "alarm-state-alarm.json"))
	if err != nil {
		t.Fatalf("HandleEvent: %v", err)
	}
	if !out.Submitted || !out.Changed {
		t.Fatalf("outcome = %+v, want a submitted change", out)
	}
	if want := []map[string]int{{"eu-west-1": 0, "us-east-1": 100, "us-west-2": 100}}; !reflect.DeepEqual(r.routes.submits, want) {
		t.Errorf("submits = %v, want %v", r.routes.submits, want)
	}
	if st := r.state(t); !st.LastChange.Equal(now) || st.LastChangeBy != "us-east-1" || !strings.Contains(st.LastReason, "eu-west-1 100->0") {
		t.Errorf("state = %+v, want the change recorded", st)
	}
	if len(r.notifier.subjects) != 1 || r.notifier.subjects[0] != "MRAP failover: routes changed" || !strings.Contains(r.notifier.messages[0], "Before: eu-west-1=100 us-east-1=100 us-west-2=100") {
		t.Errorf("notifications = %q %q", r.notifier.subjects, r.notifier.messages)
	}
	var line map[string]any
	if err := json.Unmarshal(r.logs.Bytes(), &line); err != nil {
		t.Fatalf("log line: %v\n%s", err, r.logs.String())
	}
	if line["msg"] != "failover decision" || line["outcome"] != "changed" || !strings.Contains(line["trigger"].(string), "mrap-eu-west-1-canary-availability") ||
		line["decider"] != "us-east-1" || line["kind"] != KindEvacuation || !strings.Contains(line["observers"].(string), "3/3 observers read") {
		t.Errorf("log line = %v", line)
	}
	m := emf(t, &r.metrics)
	if len(m) != 4 || m[0][MetricDecisions] != 1.0 || m[0][MetricRoutingChanges] != 1.0 || m[0][MetricActiveRegions] != 2.0 || m[0][MetricTotalOutage] != 0.0 {
		t.Errorf("metrics = %v", m)
	}
	// The dial in force after the submit, one line per Region (the dashboard graphs it).
	wantDial := map[string]float64{"eu-west-1": 0, "us-east-1": 100, "us-west-2": 100}
	for _, line := range m[1:] {
		region, _ := line["Region"].(string)
		if want, ok := wantDial[region]; !ok || line[MetricTrafficDial] != want {
			t.Errorf("dial line %v, want %s=%v", line, region, want)
		}
		delete(wantDial, region)
	}
	if len(wantDial) != 0 {
		t.Errorf("no dial for %v", wantDial)
	}
}

func TestStaleAlarmEventDoesNotFlipTraffic(t *testing.T) {
	// The event says eu-west-1 went into ALARM; its alarms are OK now. Nothing changes.
	r := newRig(t, aaPolicy(), false, allOK())
	r.routes.routes[0].Dial = 0 // eu-west-1 passive after an earlier failover
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "alarm-state-alarm.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Changed || len(r.routes.submits) != 0 || r.health.reads != 1 {
		t.Errorf("outcome %+v, submits %v, health reads %d: want a fresh read and no change", out, r.routes.submits, r.health.reads)
	}
	if len(r.notifier.subjects) != 0 {
		t.Errorf("notified %q for no change", r.notifier.subjects)
	}
}

func TestDryRunDecidesButSubmitsNothing(t *testing.T) {
	r := newRig(t, aaPolicy(), true, euAlarm())
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "alarm-state-alarm.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Changed || out.Submitted || len(r.routes.submits) != 0 || r.puts != 0 {
		t.Errorf("outcome %+v submits %v saves %d: want a decided, unsubmitted, unsaved change", out, r.routes.submits, r.puts)
	}
	if !strings.HasPrefix(out.Reason, "DRY RUN") || len(r.notifier.subjects) != 1 || !strings.Contains(r.notifier.subjects[0], "dry run") {
		t.Errorf("reason %q notifications %q", out.Reason, r.notifier.subjects)
	}
	if m := emf(t, &r.metrics); m[0][MetricRoutingChanges] != 0.0 {
		t.Errorf("dry run counted a routing change: %v", m[0])
	}
}

func TestBadEventsAreRejectedAndChangeNothing(t *testing.T) {
	tests := []struct {
		name, raw, wantErr string
	}{
		{"not json", "not json", "not an EventBridge envelope"},
		{"unknown source", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, `unknown event: source "aws.ec2"`},
		{"malformed alarm", `{"source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"x","state":{"value":"MAYBE"}}}`, `"MAYBE"`},
		{"unknown command", string(fixture(t, "command-unknown-action.json")), `action "reboot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, aaPolicy(), false, euAlarm())
			_, err := r.engine.HandleEvent(context.Background(), []byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if r.routes.gets != 0 || len(r.routes.submits) != 0 || r.puts != 0 {
				t.Errorf("a rejected event touched routes (%d gets, %d submits) or state (%d saves)", r.routes.gets, len(r.routes.submits), r.puts)
			}
		})
	}
}

func TestFailuresLeaveRoutesAlone(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*rig)
		wantErr string
	}{
		{"routes unreadable", func(r *rig) { r.routes.getErr = errors.New("every control Region failed") }, "read current routes"},
		{"health unreadable", func(r *rig) { r.health.err = errors.New("no observer reader") }, "read health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, aaPolicy(), false, euAlarm())
			tt.setup(r)
			_, err := r.engine.HandleEvent(context.Background(), fixture(t, "alarm-state-alarm.json"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if len(r.routes.submits) != 0 {
				t.Errorf("submitted %v after a failure", r.routes.submits)
			}
			if !strings.Contains(r.logs.String(), `"msg":"failover decision failed"`) {
				t.Errorf("no audit line for the failure: %s", r.logs.String())
			}
		})
	}
}

func TestCooldownFromStateNeverHoldsAnEvacuation(t *testing.T) {
	r := newRig(t, aaPolicy(), false, euAlarm())
	r.setLastChange(t, now.Add(-2*time.Minute))
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "alarm-state-alarm.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Held || len(r.routes.submits) != 1 || r.routes.submits[0]["eu-west-1"] != 0 {
		t.Errorf("outcome %+v submits %v, want eu-west-1 evacuated inside the cooldown", out, r.routes.submits)
	}
}

func TestCommandIsAppliedOnceAndPersists(t *testing.T) {
	r := newRig(t, aaPolicy(), false, allOK())
	raw := fixture(t, "command-failover.json")
	out, err := r.engine.HandleEvent(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"eu-west-1": 0, "us-east-1": 100, "us-west-2": 0}; !out.Submitted || !reflect.DeepEqual(out.Routes, want) {
		t.Fatalf("outcome %+v, want routes %v submitted", out, want)
	}
	if st := r.state(t); st.Overrides.Pinned != "us-east-1" || st.LastCommandID != "5b1f0c2e-8d3a-4c6e-9f7b-2a1d3e4f5a6b" ||
		st.LastCommandOutcome != "changed" || st.LastCommandBy != "us-east-1" || !strings.Contains(st.LastCommandReason, "us-east-1") {
		t.Errorf("pin, command id or its outcome not persisted: %+v", st)
	}
	again, err := r.engine.HandleEvent(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Ignored || len(r.routes.submits) != 1 {
		t.Errorf("replayed command: %+v, submits %d", again, len(r.routes.submits))
	}
	// An alarm-driven evaluation keeps the operator's pin.
	if out, _ := r.engine.HandleEvent(context.Background(), fixture(t, "alarm-state-ok.json")); out.Changed {
		t.Errorf("automatic decision undid the pin: %s", out.Reason)
	}
	// and the command's outcome: a later decision does not overwrite it.
	if st := r.state(t); st.LastCommandOutcome != "changed" || st.Records["us-east-1"].LastDecision.Kind == KindCommand {
		t.Errorf("command outcome after an automatic decision: %q (last decision %+v)", st.LastCommandOutcome, st.Records["us-east-1"].LastDecision)
	}
}

func TestOldCommandIsIgnored(t *testing.T) {
	r := newRig(t, aaPolicy(), false, allOK())
	r.engine.opts.Now = func() time.Time { return now.Add(2 * time.Hour) }
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "command-drain.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Ignored || !strings.Contains(out.Reason, "older than 15m0s") || len(r.routes.submits) != 0 {
		t.Errorf("outcome %+v, want an old command ignored", out)
	}
}

func TestRefusedCommandIsNotified(t *testing.T) {
	r := newRig(t, aaPolicy(), false, allOK())
	r.health.health["us-east-1"] = routing.RegionHealth{State: routing.Alarm, Since: now.Add(-time.Minute)}
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "command-failover.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Refused || len(r.routes.submits) != 0 || len(r.notifier.subjects) != 1 || r.notifier.subjects[0] != "MRAP failover: command refused" {
		t.Errorf("outcome %+v notifications %q", out, r.notifier.subjects)
	}
	// The refusal is in the record: whoever sent the command can read why.
	if st := r.state(t); st.LastCommandID != "5b1f0c2e-8d3a-4c6e-9f7b-2a1d3e4f5a6b" || st.LastCommandOutcome != "refused" || st.LastCommandReason == "" || st.LastCommandReason != cut(out.Reason, 200) {
		t.Errorf("refused command recorded as id %q outcome %q reason %q; want the refusal %q", st.LastCommandID, st.LastCommandOutcome, st.LastCommandReason, out.Reason)
	}
}

func TestRecordsWithoutCommandOutcomeStillMerge(t *testing.T) {
	// A record written before lastCommandOutcome existed.
	old := `{"decider":"us-east-1","seq":4,"heartbeat":"2026-12-01T10:00:00Z","lastCommandId":"c-1","lastCommandAt":"2026-12-01T09:59:00Z"}`
	var r Record
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatal(err)
	}
	st := Merge([]Record{r})
	if st.LastCommandID != "c-1" || st.LastCommandBy != "us-east-1" || st.LastCommandOutcome != "" {
		t.Errorf("old record merged as %+v", st)
	}
}

func TestHealthEventsOpenAndCloseAnIssue(t *testing.T) {
	p := aaPolicy()
	p.InsufficientData = routing.Unhealthy
	r := newRig(t, p, false, allOK())
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "health-s3-issue-open.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Routes["eu-west-1"] != 0 || !out.Submitted {
		t.Fatalf("open S3 issue under the unhealthy policy: %+v", out)
	}
	if is := issueOf(r.state(t), "eu-west-1"); !is.Open {
		t.Errorf("issue not remembered as open: %+v", r.state(t))
	}
	if _, err := r.engine.HandleEvent(context.Background(), fixture(t, "health-s3-issue-closed.json")); err != nil {
		t.Fatal(err)
	}
	if is := issueOf(r.state(t), "eu-west-1"); is.Open {
		t.Errorf("closed issue still open: %+v", is)
	}
	// A replay of the older "open" update does not reopen it.
	if _, err := r.engine.HandleEvent(context.Background(), fixture(t, "health-s3-issue-open.json")); err != nil {
		t.Fatal(err)
	}
	if is := issueOf(r.state(t), "eu-west-1"); is.Open {
		t.Errorf("a replayed open update reopened a closed issue: %+v", is)
	}
}

func TestNonS3HealthEventIsIgnored(t *testing.T) {
	r := newRig(t, aaPolicy(), false, allOK())
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "health-ec2-scheduled.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Ignored || r.routes.gets != 0 {
		t.Errorf("outcome %+v gets %d, want ignored without reads", out, r.routes.gets)
	}
}

func TestScheduledEventFailsBackAfterTheWindow(t *testing.T) {
	p := routing.Policy{Mode: routing.ActivePassive, Priority: []string{"us-east-1", "eu-west-1", "us-west-2"}, Cooldown: 5 * time.Minute, Failback: true, FailbackWindow: 15 * time.Minute}
	r := newRig(t, p, false, allOK())
	r.routes.routes = []mrap.Route{{Region: "eu-west-1", Dial: 100}, {Region: "us-east-1", Dial: 0}, {Region: "us-west-2", Dial: 0}}
	out, err := r.engine.HandleEvent(context.Background(), []byte(`{"version":"0","id":"s1","source":"aws.events","detail-type":"Scheduled Event","region":"us-east-1","detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"eu-west-1": 0, "us-east-1": 100, "us-west-2": 0}; !reflect.DeepEqual(out.Routes, want) || !out.Submitted {
		t.Errorf("outcome %+v, want failback to us-east-1", out)
	}
}

func issueOf(st State, region string) HealthIssue {
	for _, is := range st.HealthIssues {
		if is.Region == region {
			return is
		}
	}
	return HealthIssue{}
}
