package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/drill"
	"github.com/mrap-engine/mrap/shared/local/globalendpoint"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/routing"
)

func fastOptions(dir string, out io.Writer) runtime.Options {
	return runtime.Options{
		DataDir:       dir,
		ProbeInterval: 250 * time.Millisecond,
		ProbeTimeout:  time.Second, // generous: a loaded CI machine must not raise false alarms
		Policy:        routing.Policy{Mode: routing.ActiveActive, Cooldown: time.Second},
		Progress:      out,
	}
}

// TestLocalRuntimeDrill starts the whole local deployment on free ports and runs the game
// day drill against it: every step must keep its bound.
func TestLocalRuntimeDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three versitygw processes and runs the drill")
	}
	dir := t.TempDir()
	var progress bytes.Buffer
	ctx := context.Background()
	rt, err := runtime.Start(ctx, fastOptions(dir, &progress))
	if err != nil {
		t.Fatalf("start: %v\n%s", err, progress.String())
	}
	t.Cleanup(rt.Close)

	ep := checkEndpointsFile(t, dir)
	var timeline bytes.Buffer
	bounds := drill.DefaultBounds
	bounds.Detection, bounds.RoutesFlip, bounds.Traffic, bounds.Recovery = 5*time.Second, 6*time.Second, 6*time.Second, 6*time.Second
	rep, err := drill.Run(ctx, ep, drill.Options{Bounds: bounds, Out: &timeline})
	t.Logf("drill timeline:\n%s", timeline.String())
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	want := []string{"replication to every Region", "detection (alarm in ALARM)", "routes flipped (dial 0)",
		"traffic moved off us-east-1", "client errors after traffic moved", "recovery (alarm OK)", "traffic back in us-east-1",
		"outage writes replicated to us-east-1"}
	if len(rep.Steps) != len(want) {
		t.Fatalf("drill ran %d steps, want %d: %+v", len(rep.Steps), len(want), rep.Steps)
	}
	for i, s := range rep.Steps {
		if s.Name != want[i] {
			t.Errorf("step %d = %q, want %q", i, s.Name, want[i])
		}
		if !s.OK {
			t.Errorf("step %q missed its bound: took %s, bound %s (%s)", s.Name, s.Took, s.Bound, s.Note)
		}
	}
	if rep.Region != "us-east-1" || rep.ClientRequests == 0 {
		t.Errorf("report = %+v", rep)
	}
	st := rt.Status()
	if st.Serving != "us-east-1" || !st.Overrides.IsZero() {
		t.Errorf("after the drill: serving %s, overrides %+v; want us-east-1 and none", st.Serving, st.Overrides)
	}
}

func checkEndpointsFile(t *testing.T, dir string) runtime.Endpoints {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	var shape map[string]any
	if err := json.Unmarshal(raw, &shape); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"account_id", "access_key_id", "secret_access_key", "mrap_arn", "mrap_alias", "global_endpoint", "control_endpoint", "regions"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("endpoints.json lacks %q", k)
		}
	}
	if len(shape) != 8 {
		t.Errorf("endpoints.json has %d keys, want exactly 8: %s", len(shape), raw)
	}
	ep, err := runtime.ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.MRAPARN, "arn:aws:s3::"+ep.AccountID+":accesspoint/") || !strings.HasSuffix(ep.MRAPAlias, ".mrap") ||
		!strings.HasPrefix(ep.GlobalEndpoint, "http://127.0.0.1:") || !strings.HasPrefix(ep.ControlEndpoint, "http://127.0.0.1:") ||
		len(ep.Regions) != 3 || ep.Regions[0].Region != "us-east-1" || ep.Regions[2].Region != "ap-southeast-2" || ep.Regions[1].Bucket == "" {
		t.Errorf("endpoints.json = %s", raw)
	}
	return ep
}

// TestLocalRuntimePersistsAcrossRestarts checks that objects, routes and the identity
// survive a restart, and that a port in use is refused with nothing left running.
func TestLocalRuntimePersistsAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	dir := t.TempDir()
	ctx := context.Background()
	opts := fastOptions(dir, io.Discard)
	opts.Regions = []string{"us-east-1", "eu-west-1"}
	rt, err := runtime.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	ep := rt.Endpoints()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep.GlobalEndpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(ep.MRAPAlias), Key: aws.String("keep"), Body: strings.NewReader("kept")}); err != nil {
		t.Fatal(err)
	}
	euw1 := ep.Regions[1]
	direct := s3.New(s3.Options{Region: euw1.Region, BaseEndpoint: aws.String(euw1.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(euw1.Bucket), Key: aws.String("keep")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("object not replicated to eu-west-1: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := rt.Command(ctx, routing.Command{Action: routing.Drain, Region: "us-east-1", Reason: "test"}); err != nil {
		t.Fatal(err)
	}

	// A second runtime on the same control port must fail cleanly.
	clash := opts
	clash.DataDir = t.TempDir()
	clash.ControlAddr = strings.TrimPrefix(ep.ControlEndpoint, "http://")
	if _, err := runtime.Start(ctx, clash); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("start on a used port: err = %v, want 'already in use'", err)
	}
	if _, err := os.Stat(filepath.Join(clash.DataDir, "regions")); err == nil {
		t.Error("a refused start left Region data behind: it started versitygw before checking ports")
	}
	rt.Close()

	rt2, err := runtime.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	ep2 := rt2.Endpoints()
	if ep2.MRAPAlias != ep.MRAPAlias || ep2.AccessKeyID != ep.AccessKeyID {
		t.Errorf("identity changed across restart: %s -> %s", ep.MRAPAlias, ep2.MRAPAlias)
	}
	if d := rt2.Status().Regions[0]; d.Dial != 0 {
		t.Errorf("us-east-1 dial after restart = %d, want 0 (drained before)", d.Dial)
	}
	c2 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep2.GlobalEndpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ep2.AccessKeyID, ep2.SecretAccessKey, "")})
	out, err := c2.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(ep2.MRAPAlias), Key: aws.String("keep")})
	if err != nil {
		t.Fatalf("object written before the restart, read from eu-west-1 after: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "kept" {
		t.Errorf("got %q, want kept", b)
	}
}

// TestCooldownNeverHoldsAnEvacuation fails a Region right after a routing change: the
// cooldown damps only adding traffic back, so traffic leaves the failed Region at once
// instead of staying on it for the cooldown (issue 10).
func TestCooldownNeverHoldsAnEvacuation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	ctx := context.Background()
	opts := fastOptions(t.TempDir(), io.Discard)
	opts.Regions = []string{"us-east-1", "eu-west-1"}
	opts.Policy.Cooldown = 10 * time.Minute
	rt, err := runtime.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	waitUntil := func(what string, limit time.Duration, cond func(runtime.Status) bool) {
		t.Helper()
		start := time.Now()
		for !cond(rt.Status()) {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %s; status %+v", what, limit, rt.Status())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	healthy := func(st runtime.Status) bool { return st.Regions[0].Alarm == "OK" && st.Regions[1].Alarm == "OK" }
	waitUntil("healthy", 10*time.Second, healthy)
	// A change now starts the ten-minute cooldown.
	if out, err := rt.Command(ctx, routing.Command{Action: routing.Drain, Region: "eu-west-1"}); err != nil || !out.Submitted {
		t.Fatalf("drain: %+v, %v", out, err)
	}
	if _, err := rt.Command(ctx, routing.Command{Action: routing.Failback}); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetFault("us-east-1", "down", 0); err != nil {
		t.Fatal(err)
	}
	// Well inside the cooldown: traffic has left us-east-1 for eu-west-1.
	waitUntil("evacuation inside the cooldown", time.Minute, func(st runtime.Status) bool {
		return st.Regions[0].Dial == 0 && st.Regions[1].Dial == 100
	})
}

// TestConcurrentWritesConverge writes one key in two Regions at once, straight to their
// endpoints (active-active clients near each Region): the bridge and the replication
// engine bring every Region to the same winner.
func TestConcurrentWritesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	ctx := context.Background()
	rt, err := runtime.Start(ctx, fastOptions(t.TempDir(), io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ep := rt.Endpoints()
	clients := map[string]*s3.Client{}
	for _, r := range ep.Regions {
		clients[r.Region] = s3.New(s3.Options{Region: r.Region, BaseEndpoint: aws.String(r.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
	}
	key := "conflict/é a+b.txt"
	done := make(chan error, 2)
	for _, r := range ep.Regions[:2] {
		go func() {
			_, err := clients[r.Region].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(key),
				Body: strings.NewReader("written in " + r.Region)})
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		contents := map[string]string{}
		for _, r := range ep.Regions {
			out, err := clients[r.Region].GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(key)})
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			contents[r.Region] = string(b)
		}
		same := len(contents) == 3
		for _, c := range contents {
			same = same && c == contents[ep.Regions[0].Region]
		}
		if same {
			t.Logf("every Region holds %q", contents[ep.Regions[0].Region])
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Regions did not converge in 15s: %v", contents)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFailoverThenFaultMovesTrafficWithoutCooldown is what a new user tried in issue 10:
// `mrapctl failover --to eu-west-1`, then `mrapctl fault eu-west-1 down`. With a ten-minute
// cooldown, the traffic must leave eu-west-1 (pinned and now failing) for a healthy Region
// at once, through the global endpoint, instead of failing every request for the cooldown.
func TestFailoverThenFaultMovesTrafficWithoutCooldown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	ctx := context.Background()
	opts := fastOptions(t.TempDir(), io.Discard)
	opts.Policy.Cooldown = 10 * time.Minute
	rt, err := runtime.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ep := rt.Endpoints()
	var servedBy string
	global := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep.GlobalEndpoint), UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, ""),
		HTTPClient: &http.Client{Timeout: 3 * time.Second, Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				servedBy = resp.Header.Get(globalendpoint.RegionHeader)
			}
			return resp, err
		})}})
	put := func(key string) error {
		servedBy = ""
		_, err := global.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(ep.MRAPAlias), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}
	waitUntil := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %s; status %+v", what, limit, rt.Status())
			}
		}
	}
	waitUntil("every Region healthy", 15*time.Second, func() bool {
		for _, r := range rt.Status().Regions {
			if r.Alarm != "OK" {
				return false
			}
		}
		return true
	})
	if out, err := rt.Command(ctx, routing.Command{Action: routing.Failover, Region: "eu-west-1", Reason: "test", RequestedBy: "test"}); err != nil || !out.Submitted {
		t.Fatalf("failover --to eu-west-1: %+v, %v", out, err)
	}
	if err := put("before"); err != nil || servedBy != "eu-west-1" {
		t.Fatalf("after failover --to eu-west-1: served by %q, %v; want eu-west-1", servedBy, err)
	}
	if err := rt.SetFault("eu-west-1", "down", 0); err != nil {
		t.Fatal(err)
	}
	// The change right before the fault started the ten-minute cooldown: a flip now is an
	// evacuation the cooldown did not hold.
	waitUntil("traffic off eu-west-1 inside the cooldown", time.Minute, func() bool {
		return put("after") == nil && servedBy != "" && servedBy != "eu-west-1"
	})
	st := rt.Status()
	if st.Regions[1].Dial != 0 || time.Until(st.CooldownUntil) <= 0 {
		t.Errorf("eu-west-1 dial %d, cooldown until %s; want 0 while the cooldown still runs", st.Regions[1].Dial, st.CooldownUntil)
	}
	t.Logf("traffic moved off the pinned, failing eu-west-1 to %s by the decider in %s; last decision: %s", servedBy, st.LastDecider, st.LastDecision)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDrillInterruptedRestoresState stops a drill (as Ctrl-C does) once the routes flipped:
// it stops at once, removes its fault, reports no step it did not measure, says the state it
// left and the command that restores the routes, and that command then works.
func TestDrillInterruptedRestoresState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three versitygw processes and runs the drill")
	}
	dir := t.TempDir()
	var progress bytes.Buffer
	rt, err := runtime.Start(context.Background(), fastOptions(dir, &progress))
	if err != nil {
		t.Fatalf("start: %v\n%s", err, progress.String())
	}
	t.Cleanup(rt.Close)
	ep := checkEndpointsFile(t, dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var timeline syncBuffer
	type result struct {
		rep drill.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := drill.Run(ctx, ep, drill.Options{Out: &timeline})
		done <- result{rep, err}
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(timeline.String(), "routes flipped"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no routes flip within 30s:\n%s", timeline.String())
		}
	}
	cancel()
	stoppedAt := time.Now()
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("drill still running 10s after Ctrl-C:\n%s", timeline.String())
	}
	t.Logf("drill stopped %s after Ctrl-C; timeline:\n%s", time.Since(stoppedAt).Round(time.Millisecond), timeline.String())
	if res.err != drill.ErrInterrupted {
		t.Errorf("drill error = %v, want ErrInterrupted", res.err)
	}
	out := timeline.String()
	for _, bad := range []string{"MISS", "not answering", "recovery (alarm OK)"} {
		if strings.Contains(out, bad) {
			t.Errorf("timeline after Ctrl-C holds %q", bad)
		}
	}
	for _, want := range []string{`removed the fault "down" from us-east-1`, "state left: traffic dials us-east-1 0", "to restore the routes, run: mrapctl failback"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline after Ctrl-C lacks %q", want)
		}
	}
	for _, s := range res.rep.Steps {
		if !s.OK {
			t.Errorf("step %q reported as missed after Ctrl-C", s.Name)
		}
	}
	st := rt.Status()
	for _, r := range st.Regions {
		if r.Fault != "up" {
			t.Errorf("%s fault after the interrupted drill = %s, want up", r.Region, r.Fault)
		}
	}
}

// TestRegionPortsFixed starts the runtime with fixed Region ports: each Region's S3 endpoint
// is at the base port plus its index, so scripts can rely on it across restarts.
func TestRegionPortsFixed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three versitygw processes")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if base > 65000 {
		base -= 1000
	}
	var progress bytes.Buffer
	opts := fastOptions(t.TempDir(), &progress)
	opts.RegionPortBase = base
	rt, err := runtime.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, progress.String())
	}
	defer rt.Close()
	for i, r := range rt.Endpoints().Regions {
		if want := fmt.Sprintf("http://127.0.0.1:%d", base+i); r.Endpoint != want {
			t.Errorf("%s endpoint = %s, want %s", r.Region, r.Endpoint, want)
		}
	}
	// A second runtime (its own folder) asking for the same Region ports fails before it
	// starts any versitygw.
	var second bytes.Buffer
	opts2 := fastOptions(t.TempDir(), &second)
	opts2.RegionPortBase = base
	if rt2, err := runtime.Start(context.Background(), opts2); err == nil {
		rt2.Close()
		t.Fatal("a second runtime on the same Region ports started")
	} else if !strings.Contains(err.Error(), fmt.Sprintf("us-east-1 endpoint: address 127.0.0.1:%d is already in use", base)) ||
		strings.Contains(second.String(), "starting") {
		t.Errorf("second start on the same Region ports: %v\nprogress:\n%s", err, second.String())
	}
}
