package replicator

import (
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Config is the replicator's configuration (docs/contracts.md, "Environment of the functions").
type Config struct {
	s3store.Config  // member buckets, endpoints, retries, copy options
	Replication     replication.Options
	MetricNamespace string
	Region          string
}

// LoadConfig reads the replicator's environment through lookup, reporting every problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Config:          s3store.LoadConfig(env),
		MetricNamespace: env.String("MRAP_METRIC_NAMESPACE", telemetry.DefaultNamespace),
		Region:          env.String("AWS_REGION", ""),
	}
	c.Replication.ReplicatePermanentDeletes = env.Bool("MRAP_REPLICATE_PERMANENT_DELETES", false)
	c.Replication.ReplicateLifecycleDeletes = env.Bool("MRAP_REPLICATE_LIFECYCLE_DELETES", false)
	return c, env.Err()
}
