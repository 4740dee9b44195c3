package replication

import (
	"cmp"
	"fmt"
	"slices"
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

// Compare orders two versions of one key by the conflict rule of docs/contracts.md ("Conflict
// rule") when the origin bucket's order of the key is not at hand: CompareIn with a nil order.
// It returns +1 when a wins, -1 when b wins and 0 only when both name the same write.
func Compare(a, b Origin) int { return CompareIn(a, b, nil) }

// Wins reports whether a wins over b by the conflict rule (Compare).
func Wins(a, b Origin) bool { return Compare(a, b) > 0 }

// WinsIn reports whether a wins over b by the conflict rule given the origin bucket's order
// (CompareIn).
func WinsIn(a, b Origin, order *OriginOrder) bool { return CompareIn(a, b, order) > 0 }

// NeedsOrder reports whether the conflict rule needs the origin bucket's own order of the key
// to compare a and b: two different writes of the same origin Region whose sequencers are not
// both known. The engine then reads that bucket's versions of the key (OrderOf).
func NeedsOrder(a, b Origin) bool {
	return a.Region == b.Region && a.VersionID != b.VersionID && (a.Sequencer == "" || b.Sequencer == "")
}

// CompareIn orders two versions of one key by the conflict rule of docs/contracts.md
// ("Conflict rule"): +1 when a wins, -1 when b wins, 0 only when both name the same write.
//   - Different origin Regions: the later origin time, then the greater origin Region name
//     (byte order).
//   - Same origin Region: the origin bucket's own order. Both sequencers known: the greater
//     sequencer (left-padded with zeros to equal length). Otherwise order, the origin
//     bucket's versions of the key as it lists them (newest first): the one listed first wins,
//     and its current version wins over one it no longer lists. Only when the origin bucket
//     can no longer tell (order nil or of another Region, neither version listed): the later
//     origin time, then the greater version id, an arbitrary order that every Region
//     computes alike, never taken for recency where the bucket can say.
func CompareIn(a, b Origin, order *OriginOrder) int {
	if a.Same(b) {
		return 0
	}
	if a.Region != b.Region {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Region, b.Region)
	}
	if a.Sequencer != "" && b.Sequencer != "" {
		if c := compareSequencers(a.Sequencer, b.Sequencer); c != 0 {
			return c
		}
	}
	if c, ok := order.compare(a.Region, a.VersionID, b.VersionID); ok {
		return c
	}
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.VersionID, b.VersionID)
}

// OriginOrder is one bucket's own order of the versions of one key: the version ids of its
// versions and delete markers as it lists them, newest first, and its current version. It is
// what the conflict rule reads for two writes of that bucket's Region whose sequencers are
// not both known: version ids are opaque (they do not sort by time) and Last-Modified has one
// second precision, so only the bucket knows which of two writes of one second came last.
type OriginOrder struct {
	Region  string   // the Region of the bucket listed
	Current string   // the key's current version id there ("" when it has none)
	Newest  []string // version ids, newest first
}

// OrderOf returns the order of a key in region from its versions as a Store lists them
// (ListVersions: newest first, the current version first).
func OrderOf(region string, versions []Version) *OriginOrder {
	o := &OriginOrder{Region: region, Newest: make([]string, 0, len(versions))}
	for _, v := range versions {
		o.Newest = append(o.Newest, v.VersionID)
	}
	if len(versions) > 0 {
		o.Current = versions[0].VersionID
	}
	return o
}

// compare orders versions a and b of region by o: ok false when o cannot tell.
func (o *OriginOrder) compare(region, a, b string) (int, bool) {
	if o == nil || o.Region != region {
		return 0, false
	}
	switch {
	case o.Current != "" && a == o.Current:
		return 1, true
	case o.Current != "" && b == o.Current:
		return -1, true
	}
	ia, ib := slices.Index(o.Newest, a), slices.Index(o.Newest, b)
	if ia < 0 || ib < 0 {
		return 0, false
	}
	return cmp.Compare(ib, ia), true
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
