package replication_test

import (
	"testing"

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/replication"
)

// The engine's own objects are named in three packages; they must all stay in their Region.
func TestEngineObjectsAreInternal(t *testing.T) {
	for _, key := range []string{health.DefaultCanaryPrefix + "us-east-1/x", health.DefaultCanaryPrefix + "global", failover.RecordKey(failover.DefaultPrefix, "us-east-1")} {
		if !replication.IsInternalKey(key) {
			t.Errorf("IsInternalKey(%q) = false, want true", key)
		}
	}
	for _, key := range []string{"data/.mrap-canary/x", ".mrap-canaryx", "mrap-state/x", ""} {
		if replication.IsInternalKey(key) {
			t.Errorf("IsInternalKey(%q) = true, want false", key)
		}
	}
}
