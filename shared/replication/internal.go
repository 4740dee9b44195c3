package replication

import "strings"

// SkipInternal is the skip reason for the engine's own per-Region objects.
const SkipInternal = "engine-internal"

// The key prefixes of the engine's own per-Region objects: the one place they are named.
const (
	// CanaryPrefix starts the prober's canary objects.
	CanaryPrefix = ".mrap-canary/"
	// StatePrefix starts the engine's state objects (failover state, reconcile checkpoint,
	// delete-marker records).
	StatePrefix = ".mrap-state/"
	// MarkerRecordPrefix starts the records of the delete markers the engine wrote.
	MarkerRecordPrefix = StatePrefix + "markers/"
	// TagRecordPrefix starts the records of the tag sets the engine wrote on replica copies
	// (how an echo of its own tag write is told from a user's change).
	TagRecordPrefix = StatePrefix + "tags/"
)

// InternalPrefixes returns the key prefixes of the engine's own per-Region objects (prober
// canaries, state), which are never replicated nor reconciled: each Region keeps its own.
func InternalPrefixes() []string { return []string{CanaryPrefix, StatePrefix} }

// IsInternalKey reports whether key belongs to the engine itself (see InternalPrefixes).
func IsInternalKey(key string) bool {
	for _, p := range InternalPrefixes() {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
