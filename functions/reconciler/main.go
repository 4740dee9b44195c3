// Command reconciler is the scheduled anti-entropy function: each invocation continues the
// reconcile pass over the member buckets from its checkpoint (an S3 object) for a time
// budget, repairs through the replication engine, and publishes the Divergence metric. This
// file only wires: the configuration and handler of shared/reconciler, clients built once.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/reconciler"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Setup builds the handler from the environment: config, S3 clients (once), store, engine,
// checkpoint object and the verified-versions index next to it.
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*reconciler.Handler, error) {
	cfg, err := reconciler.LoadConfig(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	clients, store, err := s3store.Open(ctx, cfg.Config)
	if err != nil {
		return nil, err
	}
	engine, err := replication.New(store, cfg.Members, replication.Options{})
	if err != nil {
		return nil, err
	}
	cpClient, ok := clients[cfg.CheckpointRegion]
	if !ok {
		extra, err := s3store.NewClients(ctx, []config.Member{{Region: cfg.CheckpointRegion}}, nil, cfg.MaxAttempts)
		if err != nil {
			return nil, err
		}
		cpClient = extra[cfg.CheckpointRegion]
	}
	opts := cfg.Reconcile
	if opts.Checkpoint, err = docstore.Object(cpClient, cfg.CheckpointBucket, cfg.CheckpointKey); err != nil {
		return nil, err
	}
	if cfg.IndexBucket != "" {
		if opts.Index, err = docstore.NewS3(cpClient, cfg.IndexBucket); err != nil {
			return nil, err
		}
		opts.IndexPrefix = cfg.IndexPrefix
	}
	newRunner := func(budget time.Duration) (reconciler.Runner, error) {
		o := opts
		o.Budget = budget
		return reconcile.New(store, engine, cfg.Members, o)
	}
	return reconciler.NewHandler(newRunner, opts.Budget, log, telemetry.NewMetrics(stdout, cfg.MetricNamespace)), nil
}

func main() {
	log := telemetry.NewLogger()
	h, err := Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("reconciler cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
