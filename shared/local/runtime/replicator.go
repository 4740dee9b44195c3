package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/notifybridge"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/replicator"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// replicator wires, per source Region, the replication engine and the handler the
// replicator function uses, as the replicator function runs in every member Region on AWS:
// its clients reach the other Regions through the link model and their fault proxies, so a
// Region that is down, out or isolated fails replication as it would on AWS. It returns the
// bridge's delivery function (the envelope's Region picks the handler): the same metrics and
// log lines as on AWS, plus the last notification-to-replicated time per source Region for
// `mrapctl status`. The bridge delivers the events of one key in order, one at a time.
func (rt *Runtime) replicator() (notifybridge.Deliver, error) {
	var members []config.Member
	for _, r := range rt.regions {
		members = append(members, config.Member{Region: r.name, Bucket: r.server.Bucket})
	}
	handlers := map[string]*replicator.Handler{}
	for _, src := range rt.regions {
		clients := map[string]s3store.S3API{}
		for _, dst := range rt.regions {
			clients[dst.name] = rt.s3Client(dst.name, dst.url, func(o *s3.Options) { o.HTTPClient = rt.links.Client(src.name, dst.name) })
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
		handlers[src.name] = h
	}
	return func(ctx context.Context, envelope []byte) error {
		var head struct {
			Region string `json:"region"`
		}
		if err := json.Unmarshal(envelope, &head); err != nil || handlers[head.Region] == nil {
			return fmt.Errorf("%w: envelope names no member Region (%q)", notifybridge.ErrPermanent, head.Region)
		}
		if !rt.links.Running(head.Region) {
			return fmt.Errorf("the replicator of %s does not run: the Region is out", head.Region)
		}
		err := handlers[head.Region].HandleMessage(ctx, envelope, "")
		if replication.IsPermanent(err) {
			return fmt.Errorf("%w: %w", notifybridge.ErrPermanent, err)
		}
		return err
	}, nil
}
