package s3store

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mrap-engine/mrap/shared/replication"
)

// Write conditions a store refuses. A store that does not implement If-Match / If-None-Match
// answers 501 NotImplemented (AWS's code for "a header you provided implies functionality
// that is not implemented"), or 400/501 with a message saying the header is not supported.
// The Store then writes without conditions in that Region from then on, logs it once, and
// reports the Region's writes as not atomic (Atomic), so the engine verifies each of them
// (replication package documentation, write-then-verify).

// guardFor returns the condition to send to region: none when the writes there are known to
// be unguarded (Options.UnguardedWrites, or a refusal seen before).
func (s *Store) guardFor(region string, c replication.Condition) replication.Condition {
	if s.unguarded(region) {
		return replication.Condition{}
	}
	return c
}

// unguarded reports whether writes to region go without conditions.
func (s *Store) unguarded(region string) bool {
	if s.opts.UnguardedWrites {
		return true
	}
	s.guardMu.Lock()
	defer s.guardMu.Unlock()
	return s.refusedRegions[region]
}

// refused reports whether err is region's refusal of cond (not a failed condition); the first
// refusal per Region switches it to unguarded writes and is logged.
func (s *Store) refused(ctx context.Context, region string, cond replication.Condition, err error) bool {
	if err == nil || cond.IsZero() || !conditionRefused(err) {
		return false
	}
	s.guardMu.Lock()
	first := !s.refusedRegions[region]
	s.refusedRegions[region] = true
	s.guardMu.Unlock()
	if first {
		s.opts.Logger.WarnContext(ctx, "store refuses conditional writes: writing without conditions and verifying each write",
			"region", region, "condition", cond.String(), "error", err.Error(), "setting", "MRAP_UNGUARDED_WRITES=true selects this from the start")
	}
	return true
}

// conditionRefused reports whether err says the store does not implement write conditions.
func conditionRefused(err error) bool {
	if errors.Is(err, replication.ErrConditionFailed) {
		return false
	}
	code := errorCode(err)
	if code == "NotImplemented" || statusOf(err) == http.StatusNotImplemented {
		return true
	}
	if statusOf(err) != http.StatusBadRequest {
		return false
	}
	msg := strings.ToLower(err.Error())
	return (strings.Contains(msg, "if-match") || strings.Contains(msg, "if-none-match") || strings.Contains(msg, "condition")) &&
		(strings.Contains(msg, "not supported") || strings.Contains(msg, "not implemented") || strings.Contains(msg, "unsupported"))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
