package replication

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is wrapped by Store errors when the key or version asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConditionFailed is wrapped by Store errors when a conditional write found the destination
// no longer in the state it was decided on (S3: 412 PreconditionFailed, 409
// ConditionalRequestConflict, or 404 for If-Match on a key with no current object).
var ErrConditionFailed = errors.New("destination changed since it was read")

// Condition is the destination state a write was decided on: the write succeeds only while
// the key is still in that state. The zero Condition writes unconditionally.
type Condition struct {
	// IfMatch: the current version is an object with this ETag (S3 If-Match).
	IfMatch string
	// IfAbsent: the key has no current object: no version at all, or a current delete marker
	// (S3 If-None-Match: *; on S3 a current delete marker counts as no object).
	IfAbsent bool
}

// IsZero reports whether c imposes nothing.
func (c Condition) IsZero() bool { return c.IfMatch == "" && !c.IfAbsent }

// String formats c for logs and errors.
func (c Condition) String() string {
	switch {
	case c.IfMatch != "":
		return "If-Match " + c.IfMatch
	case c.IfAbsent:
		return "If-None-Match *"
	}
	return "unconditional"
}

// ConditionOf returns the condition that holds while the destination's current version is
// still cur: If-Match its ETag for an object, If-None-Match for no object or a delete marker.
// An object without an ETag yields the zero Condition.
func ConditionOf(cur Version) Condition {
	if !cur.Exists || cur.DeleteMarker {
		return Condition{IfAbsent: true}
	}
	return Condition{IfMatch: cur.ETag}
}

// Version is one version of a key as a Store reads it.
type Version struct {
	Exists       bool // false: the key has no current version at all
	DeleteMarker bool
	VersionID    string
	LastModified time.Time
	Size         int64
	ETag         string
	Metadata     map[string]string // user metadata, replica marks included
	Content      Content
	StorageClass string
}

// Content holds the representation headers a replica keeps.
type Content struct {
	Type         string
	Encoding     string
	Language     string
	Disposition  string
	CacheControl string
	Expires      string // HTTP date as S3 returned it
	// ChecksumAlgorithm is the algorithm of the object's checksum when it has one
	// (CRC32, CRC32C, CRC64NVME, SHA1, SHA256).
	ChecksumAlgorithm string
}

// CopyRequest asks a Store to write one source version to a destination bucket as a replica.
type CopyRequest struct {
	SourceRegion string
	SourceBucket string
	Key          string
	Source       Version // the source version as read (its VersionID is the one copied)
	DestRegion   string
	DestBucket   string
	Marks        map[string]string // replica marks to add to the source's user metadata
	// Condition, honoured by a ConditionalStore, is the destination state the copy was
	// decided on; a destination no longer in it fails the copy with ErrConditionFailed.
	Condition Condition
}

// Store is what the engine needs of each Region's bucket. Methods take the Region so one Store
// serves every member. Implementations retry transient errors themselves and mark permanent
// ones with Permanent.
type Store interface {
	// Head returns the current version of key (Exists false when there is none; DeleteMarker
	// true, with its version id and Last-Modified, when the current version is a delete marker).
	Head(ctx context.Context, region, bucket, key string) (Version, error)
	// HeadVersion returns one version of key, or an error wrapping ErrNotFound when it is gone.
	HeadVersion(ctx context.Context, region, bucket, key, versionID string) (Version, error)
	// Copy writes the source version to the destination with its data, user metadata plus
	// marks, representation headers and tags, and returns the bytes written. A source version
	// gone meanwhile is an error wrapping ErrNotFound.
	Copy(ctx context.Context, req CopyRequest) (int64, error)
	// PutDeleteMarker deletes key without a version id, making a delete marker current.
	PutDeleteMarker(ctx context.Context, region, bucket, key string) error
	// ListVersions returns every version and delete marker of exactly key (not of keys that
	// merely share the prefix), newest first; user metadata is not filled in.
	ListVersions(ctx context.Context, region, bucket, key string) ([]Version, error)
	// DeleteVersion permanently deletes one version of key.
	DeleteVersion(ctx context.Context, region, bucket, key, versionID string) error
}

// Source is a source version opened for reading by a StreamingStore. The engine hands it to
// at most one CopyFrom and closes it otherwise.
type Source interface {
	Close() error
}

// StreamingStore is a Store that copies through the process. Reading the source's current
// version together with its body (one GET instead of HEAD then GET) saves a request per
// replicated object; the engine uses it when Streams says so.
type StreamingStore interface {
	Store
	// Streams reports whether a copy of size bytes goes through the process in one write, so
	// that opening the source first pays off.
	Streams(size int64) bool
	// Open reads key's current version like Head and, when it is an object, opens its body.
	Open(ctx context.Context, region, bucket, key string) (Version, Source, error)
	// CopyFrom is Copy from a source already opened by Open; it consumes and closes src.
	CopyFrom(ctx context.Context, req CopyRequest, src Source) (int64, error)
}

// ConditionalStore is a Store whose destination writes can be conditioned on the state they
// were decided on (optimistic concurrency): Copy and CopyFrom honour CopyRequest.Condition,
// PutDeleteMarkerIf its cond, and a destination that changed fails them with an error
// wrapping ErrConditionFailed.
type ConditionalStore interface {
	Store
	// PutDeleteMarkerIf is PutDeleteMarker that succeeds only while cond holds.
	PutDeleteMarkerIf(ctx context.Context, region, bucket, key string, cond Condition) error
	// Atomic reports whether the store in region checks a condition atomically with the write
	// (no concurrent write can land between the check and the write): for a delete marker
	// when deleteMarker is true, otherwise for a copy of size bytes. When it does not, the
	// engine still sends the condition and also verifies the destination after the write.
	Atomic(region string, deleteMarker bool, size int64) bool
}

// MarkerStore is a Store that records the origin of every delete marker the engine writes. A
// delete marker carries no metadata: without a record, a marker the engine wrote in another
// Region looks like a user's delete made when the engine wrote it, later than the delete it
// replicates, and would beat the user writes made in between (and its event would be
// replicated back as a new delete). With a MarkerStore, Head and HeadVersion return a current
// delete marker the engine wrote with Metadata holding the recorded replica marks, so the
// marker has the origin of the delete it replicates (DestinationOrigin) and its own event is
// skipped as a replica (DecideSource). A delete marker without a record is an original.
type MarkerStore interface {
	Store
	// PutReplicaDeleteMarker writes a delete marker over key (DeleteObject without version id)
	// while cond holds (the zero Condition: unconditionally, as PutDeleteMarker) and records
	// origin as the marks of that marker. A marker written whose record could not be saved
	// stays an original marker, and the error says so.
	PutReplicaDeleteMarker(ctx context.Context, region, bucket, key string, origin Origin, cond Condition) error
	// MarkerMarks returns the replica marks recorded for delete marker versionID of key, nil
	// when it has none (an original marker).
	MarkerMarks(ctx context.Context, region, bucket, key, versionID string) (map[string]string, error)
}
