// Command reconciler is the scheduled anti-entropy function: each invocation continues the
// reconcile pass over the member buckets from its checkpoint (an S3 object) for a time
// budget, repairs through the replication engine, and publishes the Divergence metric. This
// file only wires: typed configuration from the environment, clients built once.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Config is the reconciler's configuration (docs/contracts.md).
type Config struct {
	s3store.Config                     // member buckets, endpoints, retries, copy options
	Reconcile        reconcile.Options // Budget is per invocation
	CheckpointBucket string
	CheckpointKey    string
	CheckpointRegion string
	MetricNamespace  string
}

// LoadConfig reads the environment through lookup, reporting every problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Config:           s3store.LoadConfig(env),
		MetricNamespace:  env.String("MRAP_METRIC_NAMESPACE", telemetry.DefaultNamespace),
		CheckpointRegion: env.String("MRAP_RECONCILE_CHECKPOINT_REGION", env.String("AWS_REGION", "")),
	}
	c.Reconcile = reconcile.Options{
		Scope:              reconcile.Scope{Prefix: env.String("MRAP_RECONCILE_PREFIX", ""), StartAfter: env.String("MRAP_RECONCILE_START_AFTER", ""), End: env.String("MRAP_RECONCILE_END", "")},
		DryRun:             env.Bool("MRAP_DRY_RUN", false),
		Workers:            int(env.Int64("MRAP_RECONCILE_WORKERS", 8)),
		PageSize:           int(env.Int64("MRAP_RECONCILE_PAGE_SIZE", 1000)),
		RepairRate:         float64(env.Int64("MRAP_RECONCILE_REPAIR_RATE", 0)),
		ReadRate:           float64(env.Int64("MRAP_RECONCILE_READ_RATE", 0)),
		Budget:             env.Duration("MRAP_RECONCILE_BUDGET", 10*time.Minute),
		MinAge:             env.Duration("MRAP_RECONCILE_MIN_AGE", 15*time.Minute),
		TrustMatchingETags: env.Bool("MRAP_RECONCILE_TRUST_ETAGS", false),
		Exclude:            env.List("MRAP_RECONCILE_EXCLUDE", reconcile.DefaultExclude()),
	}
	cp := env.Required("MRAP_RECONCILE_CHECKPOINT")
	if cp != "" {
		bucket, key, ok := strings.Cut(strings.TrimPrefix(cp, "s3://"), "/")
		if !strings.HasPrefix(cp, "s3://") || !ok || bucket == "" || key == "" {
			env.Fail("MRAP_RECONCILE_CHECKPOINT", "want s3://bucket/key, got %q", cp)
		}
		c.CheckpointBucket, c.CheckpointKey = bucket, key
	}
	if c.CheckpointRegion == "" {
		env.Fail("MRAP_RECONCILE_CHECKPOINT_REGION", "is required when AWS_REGION is not set")
	}
	for _, m := range c.Members {
		if m.Bucket == c.CheckpointBucket {
			env.Fail("MRAP_RECONCILE_CHECKPOINT", "the checkpoint must not live in member bucket %q (it would be replicated)", m.Bucket)
		}
	}
	if c.Reconcile.End != "" && c.Reconcile.End <= c.Reconcile.StartAfter {
		env.Fail("MRAP_RECONCILE_END", "%q is not after MRAP_RECONCILE_START_AFTER %q", c.Reconcile.End, c.Reconcile.StartAfter)
	}
	return c, env.Err()
}

// Setup builds the handler from the environment: config, S3 clients (once), store, engine,
// checkpoint object.
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*Handler, error) {
	cfg, err := LoadConfig(lookup)
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
	opts.Checkpoint = &s3store.CheckpointObject{Client: cpClient, Bucket: cfg.CheckpointBucket, Key: cfg.CheckpointKey}
	newRunner := func(budget time.Duration) (Runner, error) {
		o := opts
		o.Budget = budget
		return reconcile.New(store, engine, cfg.Members, o)
	}
	return NewHandler(newRunner, opts.Budget, log, telemetry.NewMetrics(stdout, cfg.MetricNamespace)), nil
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
