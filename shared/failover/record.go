package failover

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/routing"
)

// DefaultPrefix is where the decider records live in every state copy:
// {prefix}deciders/{decider}.json.
const DefaultPrefix = replication.StatePrefix + "failover/"

// ReadRecords reads the record of every decider in one state copy. An absent record is no
// record; a corrupt one (not JSON, or naming another decider) is left out and reported in the
// error, and reading stops at the first failure of the store itself. The records read are
// returned next to the error.
func ReadRecords(ctx context.Context, s docstore.Store, prefix string, deciders []string) ([]Record, error) {
	var out []Record
	var bad []error
	for _, d := range deciders {
		doc, err := s.Get(ctx, RecordKey(prefix, d))
		if errors.Is(err, docstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, errors.Join(append(bad, err)...)
		}
		var r Record
		if err := json.Unmarshal(doc.Body, &r); err != nil {
			bad = append(bad, fmt.Errorf("record of %s: %w", d, err))
			continue
		}
		if r.Decider != d {
			bad = append(bad, fmt.Errorf("record under %s names decider %q", d, r.Decider))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(bad...)
}

// RecordKey is the key of decider's record under prefix.
func RecordKey(prefix, decider string) string { return prefix + "deciders/" + decider + ".json" }

// MaxRecordAge is how old a record may be (behind the newest heartbeat read) and still be
// merged: a decider removed from the configuration stops counting after a week.
const MaxRecordAge = 7 * 24 * time.Hour

// Record is what one decider remembers, written only by that decider to every state copy
// (single writer: no write conflicts) and merged on read (docs/failover.md, "State").
type Record struct {
	Decider string `json:"decider"`
	// Seq is one more than the highest own record read: the newest copy wins.
	Seq int64 `json:"seq"`
	// Heartbeat is the decider's clock at the write.
	Heartbeat time.Time `json:"heartbeat"`
	// FreshSince is since when the decider's record has been continuously fresh (its
	// primarySince): a decider acts as primary only a lease TTL after it.
	FreshSince time.Time `json:"primarySince,omitzero"`
	// LastChange is when this decider last changed the routes (or wrote the intent to).
	LastChange time.Time      `json:"lastChange,omitzero"`
	LastRoutes map[string]int `json:"lastRoutes,omitempty"`
	LastReason string         `json:"lastReason,omitempty"`
	// Overrides are the operator overrides this decider last applied, at OverridesAt.
	Overrides   routing.Overrides `json:"overrides,omitzero"`
	OverridesAt time.Time         `json:"overridesAt,omitzero"`
	// LastCommandID and LastCommandAt are the last command it applied.
	LastCommandID string    `json:"lastCommandId,omitempty"`
	LastCommandAt time.Time `json:"lastCommandAt,omitzero"`
	// LastCommandOutcome is what came of that command: CommandIntent while its change is
	// being submitted, then "changed", "unchanged", "held" or "refused" (the labels of the
	// decision log); LastCommandReason says why. Records written before these fields have
	// neither (docs/contracts.md, "Routing commands").
	LastCommandOutcome string `json:"lastCommandOutcome,omitempty"`
	LastCommandReason  string `json:"lastCommandReason,omitempty"`
	// HealthIssues are the AWS Health issues it has seen, by event ARN.
	HealthIssues map[string]HealthIssue `json:"healthIssues,omitempty"`
	// LastDecision is its latest decision.
	LastDecision LastDecision `json:"lastDecision,omitzero"`
}

// HealthIssue is the latest update of one AWS Health issue for S3.
type HealthIssue struct {
	Region          string    `json:"region"`
	EventARN        string    `json:"eventArn"`
	CommunicationID string    `json:"communicationId,omitempty"`
	Open            bool      `json:"open"`
	UpdatedAt       time.Time `json:"updatedAt"`
	Description     string    `json:"description,omitempty"`
}

// LastDecision is a decider's latest decision, for operators and dashboards.
type LastDecision struct {
	Time      time.Time `json:"time,omitzero"`
	Kind      string    `json:"kind,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Observers string    `json:"observers,omitempty"`
}

// State is the merged view of every decider's record.
type State struct {
	// LastChange is the latest change any decider recorded (the cooldown counts from it),
	// LastChangeBy the decider and LastReason its reason.
	LastChange   time.Time `json:"lastChange,omitzero"`
	LastChangeBy string    `json:"lastChangeBy,omitempty"`
	LastReason   string    `json:"lastReason,omitempty"`
	// Overrides are those of the latest OverridesAt.
	Overrides   routing.Overrides `json:"overrides,omitzero"`
	OverridesAt time.Time         `json:"overridesAt,omitzero"`
	// LastCommandID and LastCommandAt are the latest command any decider applied,
	// LastCommandBy that decider, LastCommandOutcome and LastCommandReason what came of it.
	LastCommandID      string    `json:"lastCommandId,omitempty"`
	LastCommandAt      time.Time `json:"lastCommandAt,omitzero"`
	LastCommandBy      string    `json:"lastCommandBy,omitempty"`
	LastCommandOutcome string    `json:"lastCommandOutcome,omitempty"`
	LastCommandReason  string    `json:"lastCommandReason,omitempty"`
	// HealthIssues is the union over deciders, the newest update per event ARN.
	HealthIssues map[string]HealthIssue `json:"healthIssues,omitempty"`
	// Records are the newest record of each decider (highest Seq).
	Records map[string]Record `json:"records,omitempty"`
}

// Merge folds the records read from the state copies into one State (pure): per decider the
// record with the highest Seq; then the latest change of any decider, the overrides of the
// latest OverridesAt, the latest command (with the outcome its decider recorded) and the union of Health issues (newest update per
// event ARN). Records more than MaxRecordAge behind the newest heartbeat are ignored.
func Merge(records []Record) State {
	st := State{Records: map[string]Record{}}
	for _, r := range records {
		if r.Decider == "" {
			continue
		}
		if cur, ok := st.Records[r.Decider]; !ok || r.Seq > cur.Seq || (r.Seq == cur.Seq && r.Heartbeat.After(cur.Heartbeat)) {
			st.Records[r.Decider] = r
		}
	}
	var newest time.Time
	for _, r := range st.Records {
		if r.Heartbeat.After(newest) {
			newest = r.Heartbeat
		}
	}
	for _, d := range slices.Sorted(maps.Keys(st.Records)) {
		r := st.Records[d]
		if newest.Sub(r.Heartbeat) > MaxRecordAge {
			delete(st.Records, d)
			continue
		}
		if r.LastChange.After(st.LastChange) {
			st.LastChange, st.LastChangeBy, st.LastReason = r.LastChange, d, r.LastReason
		}
		if r.OverridesAt.After(st.OverridesAt) {
			st.Overrides, st.OverridesAt = r.Overrides, r.OverridesAt
		}
		if r.LastCommandAt.After(st.LastCommandAt) || (st.LastCommandID == "" && r.LastCommandID != "") {
			st.LastCommandID, st.LastCommandAt, st.LastCommandBy = r.LastCommandID, r.LastCommandAt, d
			st.LastCommandOutcome, st.LastCommandReason = r.LastCommandOutcome, r.LastCommandReason
		}
		for arn, is := range r.HealthIssues {
			if st.HealthIssues == nil {
				st.HealthIssues = map[string]HealthIssue{}
			}
			cur, ok := st.HealthIssues[arn]
			if !ok || is.UpdatedAt.After(cur.UpdatedAt) || (is.UpdatedAt.Equal(cur.UpdatedAt) && cmp.Less(cur.CommunicationID, is.CommunicationID)) {
				st.HealthIssues[arn] = is
			}
		}
	}
	return st
}
