// Command batch is the S3 Batch Operations handler of the reconciler: a job over an S3
// Inventory manifest of one member bucket invokes it per key, and it brings that key to the
// winning write in every member bucket (shared/reconcile, repairs through the replication
// engine). This file only wires: the configuration and handler of shared/batch, clients built once.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mrap-engine/mrap/shared/batch"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Setup builds the handler from the environment: config, S3 clients (once), store, engine,
// runner.
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*batch.Handler, error) {
	cfg, err := batch.LoadConfig(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	_, store, err := s3store.Open(ctx, cfg.Config)
	if err != nil {
		return nil, err
	}
	engine, err := replication.New(store, cfg.Members, replication.Options{})
	if err != nil {
		return nil, err
	}
	runner, err := reconcile.New(store, engine, cfg.Members, reconcile.Options{DryRun: cfg.DryRun, Exclude: cfg.Exclude})
	if err != nil {
		return nil, err
	}
	var buckets []string
	for _, m := range cfg.Members {
		buckets = append(buckets, m.Bucket)
	}
	return batch.NewHandler(runner, buckets, log, telemetry.NewMetrics(stdout, cfg.MetricNamespace)), nil
}

func main() {
	log := telemetry.NewLogger()
	h, err := Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("batch handler cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
