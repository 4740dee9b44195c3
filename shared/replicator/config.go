package replicator

import (
	"strings"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Config is the replicator's configuration (docs/contracts.md, "Environment of the functions").
type Config struct {
	Members         []config.Member
	Endpoints       map[string]string
	Replication     replication.Options
	Store           s3store.Options
	MaxAttempts     int
	MetricNamespace string
	Region          string
}

// LoadConfig reads the replicator's environment through lookup, reporting every problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Members:         env.Members("MRAP_MEMBERS"),
		Endpoints:       env.Map("MRAP_ENDPOINTS"),
		MaxAttempts:     int(env.Int64("MRAP_MAX_ATTEMPTS", 5)),
		MetricNamespace: env.String("MRAP_METRIC_NAMESPACE", telemetry.DefaultNamespace),
		Region:          env.String("AWS_REGION", ""),
	}
	c.Replication.ReplicatePermanentDeletes = env.Bool("MRAP_REPLICATE_PERMANENT_DELETES", false)
	c.Replication.ReplicateLifecycleDeletes = env.Bool("MRAP_REPLICATE_LIFECYCLE_DELETES", false)
	c.Store = s3store.Options{
		SameService:        len(c.Endpoints) == 0,
		TrustNotFound:      len(c.Endpoints) == 0,
		TrailingChecksums:  allHTTPS(c.Endpoints),
		MultipartThreshold: env.Int64("MRAP_MULTIPART_THRESHOLD", 0),
		PartSize:           env.Int64("MRAP_PART_SIZE", 0),
		Concurrency:        int(env.Int64("MRAP_COPY_CONCURRENCY", 0)),
		StorageClass:       env.String("MRAP_STORAGE_CLASS", ""),
		KMSKeys:            env.Map("MRAP_KMS_KEYS"),
	}
	regions := map[string]bool{}
	for _, m := range c.Members {
		regions[m.Region] = true
	}
	for _, name := range []string{"MRAP_ENDPOINTS", "MRAP_KMS_KEYS"} {
		m := c.Endpoints
		if name == "MRAP_KMS_KEYS" {
			m = c.Store.KMSKeys
		}
		for r := range m {
			if !regions[r] {
				env.Fail(name, "%q is not a member Region", r)
			}
		}
	}
	if len(c.Endpoints) > 0 && len(c.Endpoints) != len(c.Members) {
		env.Fail("MRAP_ENDPOINTS", "set an endpoint for every member Region or for none")
	}
	if c.MaxAttempts < 1 {
		env.Fail("MRAP_MAX_ATTEMPTS", "want at least 1, got %d", c.MaxAttempts)
	}
	return c, env.Err()
}

// allHTTPS reports whether every endpoint is HTTPS (true for none: AWS endpoints are).
func allHTTPS(endpoints map[string]string) bool {
	for _, e := range endpoints {
		if !strings.HasPrefix(strings.ToLower(e), "https://") {
			return false
		}
	}
	return true
}
