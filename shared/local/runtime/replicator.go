package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/notifybridge"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/replicator"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// replicator wires the replication engine and the handler the replicator function uses to
// the local Regions (through their fault proxies, so a Region that is down fails replication
// as it would on AWS) and returns the bridge's delivery function: the same metrics and log
// lines as on AWS, plus the last notification-to-replicated time per source Region for
// `mrapctl status`. The bridge delivers the events of one key in order, one at a time.
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
	h, err := replicator.New(engine, replicator.Options{
		Logger: rt.log, Metrics: rt.metrics,
		Observe: func(ctx context.Context, c events.ObjectChange, res replication.Result, _ error) {
			if res.Count(replication.Replicated) == 0 {
				return
			}
			if at, ok := notifybridge.ReceivedAt(ctx); ok {
				rt.replLatency.Store(c.Region, time.Since(at))
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, envelope []byte) error {
		err := h.HandleMessage(ctx, envelope, "")
		if replication.IsPermanent(err) {
			return fmt.Errorf("%w: %w", notifybridge.ErrPermanent, err)
		}
		return err
	}, nil
}
