package failover

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// TestDrillAgainstTheLocalRoutesAPI runs a failover and a failback through the real SDK
// client, the mrap adapter and the local s3control-compatible routes API.
func TestDrillAgainstTheLocalRoutesAPI(t *testing.T) {
	const arnValue = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
	table, err := routesapi.Open(filepath.Join(t.TempDir(), "routes.json"), []routesapi.Route{
		{Region: "eu-west-1", Bucket: "data-euw1", Dial: 100},
		{Region: "us-east-1", Bucket: "data-use1", Dial: 0},
		{Region: "us-west-2", Bucket: "data-usw2", Dial: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(routesapi.New(table, routesapi.Identity{AccountID: "123456789012", ARN: arnValue, Alias: "mfzwi23gnjvgw.mrap"}, routesapi.Options{}))
	defer srv.Close()
	sdk := s3control.New(s3control.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""), RetryMaxAttempts: 1})
	routes, err := mrap.New(sdk, mrap.Options{AccountID: "123456789012", ARN: arnValue, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	hr := &fakeHealth{health: map[string]routing.RegionHealth{
		"eu-west-1": {State: routing.Alarm, Since: clock.Add(-time.Minute)},
		"us-east-1": {State: routing.OK, Since: clock.Add(-time.Hour)},
		"us-west-2": {State: routing.OK, Since: clock.Add(-time.Hour)},
	}}
	e, err := New(routes, hr, StateCopies{"eu-west-1": docstore.NewMemory(), "us-east-1": docstore.NewMemory(), "us-west-2": docstore.NewMemory()}, Options{
		Decider: "us-east-1",
		Regions: []string{"eu-west-1", "us-east-1", "us-west-2"},
		Policy:  routing.Policy{Mode: routing.ActivePassive, Priority: []string{"eu-west-1", "us-east-1", "us-west-2"}, Cooldown: 5 * time.Minute, Failback: true, FailbackWindow: 15 * time.Minute},
		Logger:  telemetry.Discard(),
		Now:     func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	dials := func() map[string]int {
		out := map[string]int{}
		for _, r := range table.Routes() {
			out[r.Region] = r.Dial
		}
		return out
	}
	tick := Trigger{Kind: TriggerSchedule, Summary: "drill"}
	ctx := context.Background()

	// 1. The primary is in ALARM: fail over to the next by priority.
	if out, err := e.Evaluate(ctx, tick); err != nil || !out.Submitted {
		t.Fatalf("failover: %+v, %v", out, err)
	}
	if want := map[string]int{"eu-west-1": 0, "us-east-1": 100, "us-west-2": 0}; !reflect.DeepEqual(dials(), want) {
		t.Fatalf("after failover the routes API holds %v, want %v", dials(), want)
	}
	// 2. The primary recovers at once: failback waits for the window.
	clock = clock.Add(6 * time.Minute)
	hr.health["eu-west-1"] = routing.RegionHealth{State: routing.OK, Since: clock}
	if out, _ := e.Evaluate(ctx, tick); out.Changed {
		t.Fatalf("failed back before the window: %s", out.Reason)
	}
	// 3. After the window, a scheduled tick fails back.
	clock = clock.Add(16 * time.Minute)
	if out, err := e.Evaluate(ctx, tick); err != nil || !out.Submitted || out.ControlRegion != "us-east-1" {
		t.Fatalf("failback: %+v, %v", out, err)
	}
	if want := map[string]int{"eu-west-1": 100, "us-east-1": 0, "us-west-2": 0}; !reflect.DeepEqual(dials(), want) {
		t.Fatalf("after failback the routes API holds %v, want %v", dials(), want)
	}
}
