package replication

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// Replica marks: user metadata keys (without the x-amz-meta- prefix) on every copy the engine
// writes. See docs/contracts.md.
const (
	MarkOriginRegion    = "mrap-origin-region"
	MarkOriginVersionID = "mrap-origin-version-id"
	MarkOriginTime      = "mrap-origin-time"
	MarkOriginSequencer = "mrap-origin-sequencer"
)

// Origin identifies the user write a version stems from: where it was written, its version id
// there, when, and the S3 event sequencer of that write when known.
type Origin struct {
	Region    string
	VersionID string
	Time      time.Time
	Sequencer string
}

// Same reports whether a and b name the same user write (origin Region and version id).
func (o Origin) Same(b Origin) bool {
	return o.Region == b.Region && o.VersionID == b.VersionID
}

// String formats the origin for logs and errors.
func (o Origin) String() string {
	return fmt.Sprintf("%s/%s@%s", o.Region, o.VersionID, o.Time.UTC().Format(time.RFC3339Nano))
}

// Marks returns the replica marks that record o on a copy.
func (o Origin) Marks() map[string]string {
	m := map[string]string{
		MarkOriginRegion:    o.Region,
		MarkOriginVersionID: o.VersionID,
		MarkOriginTime:      o.Time.UTC().Format(time.RFC3339Nano),
	}
	if o.Sequencer != "" {
		m[MarkOriginSequencer] = o.Sequencer
	}
	return m
}

// Compare orders two versions of one key by the conflict rule of docs/contracts.md: it
// returns +1 when a wins, -1 when b wins and 0 only when both name the same write.
//  1. the later origin time wins;
//  2. same origin Region and both sequencers known: the greater sequencer (left-padded with
//     zeros to equal length, then compared as strings);
//  3. otherwise the greater origin Region name (byte order), then the greater version id.
func Compare(a, b Origin) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if a.Region == b.Region && a.Sequencer != "" && b.Sequencer != "" {
		if c := compareSequencers(a.Sequencer, b.Sequencer); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.Region, b.Region); c != 0 {
		return c
	}
	return cmp.Compare(a.VersionID, b.VersionID)
}

// Wins reports whether a wins over b by the conflict rule.
func Wins(a, b Origin) bool {
	return Compare(a, b) > 0
}

func compareSequencers(a, b string) int {
	n := max(len(a), len(b))
	return cmp.Compare(strings.Repeat("0", n-len(a))+a, strings.Repeat("0", n-len(b))+b)
}

// OriginOf returns the origin of a version read in region: the one its marks name when it is
// a replica (replica true), or (region, versionID, lastModified truncated to the second,
// sequencer) when it is an original. Metadata keys are matched case-insensitively; a replica
// whose mrap-origin-time does not parse is an error.
func OriginOf(region, versionID string, lastModified time.Time, sequencer string, metadata map[string]string) (o Origin, replica bool, err error) {
	marks := markValues(metadata)
	r, ok := marks[MarkOriginRegion]
	if !ok {
		return Origin{Region: region, VersionID: versionID, Time: lastModified.UTC().Truncate(time.Second), Sequencer: sequencer}, false, nil
	}
	o = Origin{Region: r, VersionID: marks[MarkOriginVersionID], Sequencer: marks[MarkOriginSequencer]}
	if o.Region == "" || o.VersionID == "" {
		return Origin{}, true, fmt.Errorf("replica marks of version %q in %s lack origin region or version id", versionID, region)
	}
	t, err := time.Parse(time.RFC3339Nano, marks[MarkOriginTime])
	if err != nil {
		return Origin{}, true, fmt.Errorf("replica mark %s of version %q in %s: %w", MarkOriginTime, versionID, region, err)
	}
	o.Time = t.UTC()
	return o, true, nil
}

// IsReplica reports whether metadata carries replica marks.
func IsReplica(metadata map[string]string) bool {
	_, ok := markValues(metadata)[MarkOriginRegion]
	return ok
}

func markValues(metadata map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range metadata {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "mrap-origin-") {
			out[lk] = v
		}
	}
	return out
}
