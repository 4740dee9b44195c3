package batch

import (
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Config is the batch handler's configuration (docs/contracts.md).
type Config struct {
	s3store.Config  // member buckets, endpoints, retries, copy options
	DryRun          bool
	Exclude         []string
	MetricNamespace string
}

// LoadConfig reads the environment through lookup, reporting every problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Config:          s3store.LoadConfig(env),
		DryRun:          env.Bool("MRAP_DRY_RUN", false),
		Exclude:         env.List("MRAP_RECONCILE_EXCLUDE", reconcile.DefaultExclude()),
		MetricNamespace: env.String("MRAP_METRIC_NAMESPACE", telemetry.DefaultNamespace),
	}
	return c, env.Err()
}
