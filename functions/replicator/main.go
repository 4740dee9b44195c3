// Command replicator is the replication Lambda function: S3 object events (EventBridge rule ->
// SQS -> Lambda, or a direct EventBridge invocation) replicated to every other member bucket.
// This file only wires: typed configuration from the environment, clients built once, the
// engine, the handler of shared/replicator, lambda.Start.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/replicator"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Setup builds the handler from the environment: config, S3 clients (once), store, engine.
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*replicator.Handler, error) {
	cfg, err := replicator.LoadConfig(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	cfg.Store.Logger = log
	_, store, err := s3store.Open(ctx, cfg.Config)
	if err != nil {
		return nil, err
	}
	engine, err := replication.New(store, cfg.Members, cfg.Replication)
	if err != nil {
		return nil, err
	}
	return replicator.New(engine, replicator.Options{
		Logger: log, Metrics: telemetry.NewMetrics(stdout, cfg.MetricNamespace), Region: cfg.Region,
	})
}

func main() {
	log := telemetry.NewLogger()
	h, err := Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("replicator cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
