package reconciler

import (
	"path"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/reconcile"
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
	// IndexBucket and IndexPrefix locate the verified-versions index (in the checkpoint's
	// Region); IndexBucket "" means no index.
	IndexBucket     string
	IndexPrefix     string
	MetricNamespace string
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
		CompareTags:        env.Bool("MRAP_RECONCILE_TAGS", false),
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
	c.IndexBucket, c.IndexPrefix = indexLocation(env, c.CheckpointBucket, c.CheckpointKey)
	if c.CheckpointRegion == "" {
		env.Fail("MRAP_RECONCILE_CHECKPOINT_REGION", "is required when AWS_REGION is not set")
	}
	for _, m := range c.Members {
		if m.Bucket == c.CheckpointBucket {
			env.Fail("MRAP_RECONCILE_CHECKPOINT", "the checkpoint must not live in member bucket %q (it would be replicated)", m.Bucket)
		}
		if m.Bucket == c.IndexBucket && c.IndexBucket != c.CheckpointBucket {
			env.Fail("MRAP_RECONCILE_INDEX", "the index must not live in member bucket %q (it would be replicated)", m.Bucket)
		}
	}
	if c.Reconcile.End != "" && c.Reconcile.End <= c.Reconcile.StartAfter {
		env.Fail("MRAP_RECONCILE_END", "%q is not after MRAP_RECONCILE_START_AFTER %q", c.Reconcile.End, c.Reconcile.StartAfter)
	}
	return c, env.Err()
}

// indexLocation reads MRAP_RECONCILE_INDEX: "off" (no index), s3://bucket/prefix/, or unset:
// the folder "index/" next to the checkpoint object.
func indexLocation(env *config.Env, cpBucket, cpKey string) (bucket, prefix string) {
	v := env.String("MRAP_RECONCILE_INDEX", "")
	switch {
	case v == "off":
		return "", ""
	case v == "":
		if cpBucket == "" {
			return "", ""
		}
		if dir := path.Dir(cpKey); dir != "." {
			return cpBucket, dir + "/index/"
		}
		return cpBucket, "index/"
	}
	bucket, prefix, ok := strings.Cut(strings.TrimPrefix(v, "s3://"), "/")
	if !strings.HasPrefix(v, "s3://") || !ok || bucket == "" || prefix == "" || !strings.HasSuffix(prefix, "/") {
		env.Fail("MRAP_RECONCILE_INDEX", "want off or s3://bucket/prefix/ (ending with /), got %q", v)
		return "", ""
	}
	return bucket, prefix
}
