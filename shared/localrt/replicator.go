package localrt

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/notifybridge"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// replicator wires the replication engine the replicator function uses to the local Regions
// (through their fault proxies, so a Region that is down fails replication as it would on
// AWS) and returns the bridge's delivery function.
func (rt *Runtime) replicator() (notifybridge.Deliver, error) {
	clients := map[string]s3store.S3API{}
	var members []config.Member
	for _, r := range rt.regions {
		clients[r.name] = rt.s3Client(r.name, r.url)
		members = append(members, config.Member{Region: r.name, Bucket: r.server.Bucket})
	}
	store, err := s3store.New(clients, s3store.Options{PartSize: 8 * s3store.MiB, Concurrency: 4})
	if err != nil {
		return nil, err
	}
	engine, err := replication.New(store, members, replication.Options{})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, envelope []byte) error {
		changes, err := events.ParseObjectChanges(envelope)
		if err != nil {
			return fmt.Errorf("%w: %w", notifybridge.ErrPermanent, err)
		}
		for _, c := range changes {
			if strings.HasPrefix(c.Key, CanaryPrefix) {
				continue
			}
			res, err := engine.Apply(ctx, c)
			// The same metrics as the replicator function.
			dims := map[string]string{"Region": c.Region}
			ms := []telemetry.Metric{
				{Name: "Replicated", Unit: telemetry.Count, Value: float64(res.Count(replication.Replicated))},
				{Name: "Failed", Unit: telemetry.Count, Value: float64(res.Count(replication.Failed))},
				{Name: "BytesReplicated", Unit: telemetry.Bytes, Value: float64(res.Bytes())},
			}
			if res.Count(replication.Replicated) > 0 {
				ms = append(ms, telemetry.Metric{Name: "ReplicationLatency", Unit: telemetry.Milliseconds, Value: float64(time.Since(c.EventTime).Milliseconds())})
				if at, ok := notifybridge.ReceivedAt(ctx); ok {
					rt.replLatency.Store(c.Region, time.Since(at))
				}
			}
			rt.metrics.Emit(dims, ms...)
			skipped := map[string]int{}
			for _, o := range res.Destinations {
				if o.Status == replication.Skipped {
					skipped[o.Reason]++
				}
			}
			for reason, n := range skipped {
				rt.metrics.Emit(map[string]string{"Region": c.Region, "Reason": reason}, telemetry.Metric{Name: "Skipped", Unit: telemetry.Count, Value: float64(n)})
			}
			if err != nil {
				if replication.IsPermanent(err) {
					return fmt.Errorf("%w: %w", notifybridge.ErrPermanent, err)
				}
				return err
			}
		}
		return nil
	}, nil
}
