package failover

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// BenchmarkHandleAlarmEvent measures one whole invocation with in-memory fakes: parse the
// alarm event, read the quorum view, routes and three state copies, decide, write the record to the three copies, audit (log, EMF). The routes stay
// unchanged so every iteration does the same work.
func BenchmarkHandleAlarmEvent(b *testing.B) {
	raw, err := readFixtureFile("alarm-state-alarm.json")
	if err != nil {
		b.Fatal(err)
	}
	routes := &fakeRoutes{routes: []mrap.Route{{Region: "eu-west-1", Dial: 0}, {Region: "us-east-1", Dial: 100}, {Region: "us-west-2", Dial: 100}}}
	health := &fakeHealth{health: euAlarm()}
	e, err := New(routes, health, StateCopies{"eu-west-1": docstore.NewMemory(), "us-east-1": docstore.NewMemory(), "us-west-2": docstore.NewMemory()}, Options{
		Decider: "us-east-1",
		Regions: []string{"us-east-1", "eu-west-1", "us-west-2"},
		Policy:  routing.Policy{Mode: routing.ActiveActive, Cooldown: 5 * time.Minute},
		Metrics: telemetry.NewMetrics(io.Discard, ""),
		Logger:  telemetry.Discard(),
		Now:     func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.HandleEvent(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
