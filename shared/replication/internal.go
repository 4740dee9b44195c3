package replication

import "strings"

// SkipInternal is the skip reason for the engine's own per-Region objects.
const SkipInternal = "engine-internal"

// InternalPrefixes returns the key prefixes of the engine's own per-Region objects (prober
// canaries, failover state), which are never replicated nor reconciled: each Region keeps its own.
func InternalPrefixes() []string { return []string{".mrap-canary/", ".mrap-state/"} }

// IsInternalKey reports whether key belongs to the engine itself (see InternalPrefixes).
func IsInternalKey(key string) bool {
	for _, p := range InternalPrefixes() {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
