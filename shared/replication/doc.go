// Package replication brings every member bucket of a Multi-Region Access Point to the same
// state for one key after an object event in any of them. It holds the conflict rule and the
// replication decision as pure functions, and an Engine that does the I/O around them through
// the small Store port (shared/s3store adapts S3 to it). It imports no AWS SDK.
//
// # Rules
//
// Source. The event's version is replicated only while it is still the current version at the
// source: the engine reads the source key's current version (HEAD without version id).
//   - current version differs from the event's: skip "superseded" (the newer version's own
//     event, or the reconciler, handles the key);
//   - the event's version carries replica marks: skip "replica" (the engine wrote it; this is
//     what stops loops in active-active);
//   - the event's version no longer exists: skip "source-version-gone", recorded, not an error.
//
// With a StreamingStore (copies that pass through the process) and an object small enough for
// one PUT, the source's current version is read by a GET whose body then feeds the first copy:
// one request instead of HEAD then GET.
//
// Keys are decoded once with events.DecodeKey. EventBridge's key encoding is undocumented, so
// when the decoded key does not hold the event's version but the raw key does, the raw key is
// used ("verify against the version id before copying").
//
// Destination. The engine reads each other member's current version for the key:
//   - it already holds this origin (same origin Region and version id): skip "duplicate"
//     (duplicate events are idempotent);
//   - its current version wins by the conflict rule: skip "destination-newer" (out-of-order
//     events never let an older version overwrite a newer one);
//   - otherwise the source version is copied with the replica marks.
//
// Concurrent writes. Engines in different Regions apply changes of one key at the same time
// (on AWS each Region's replicator runs on its own), so a destination read and the write
// decided on it are not atomic: without care, a losing copy that lands last stays current.
// With a ConditionalStore the write is conditioned on the state it was decided on
// (optimistic concurrency; the conditions and the retry are the rule of docs/contracts.md,
// "Conflict rule"): on ErrConditionFailed the engine reads the destination again, decides
// again with the same DecideDestination and writes again, at most Options.WriteAttempts
// times (default 5); then the destination fails with a retryable error and the record is
// delivered again.
// The common case costs nothing extra: one read, one conditional write.
//
// Where a store cannot guard a write, the engine writes and then verifies: it reads the
// destination again and, when a concurrent write that loses to the one replicated is current,
// writes again; when its own replica is current but a concurrent winning replica landed just
// below it, it deletes its replica (by version id) so that the winner is current again (only
// replicas count there: their origin is in their marks, while versitygw v1.8.0 rewrites the
// Last-Modified of a version that stops being current). This applies
// when ConditionalStore.Atomic says so (s3store: delete markers outside AWS, since versitygw
// v1.8.0 checks If-Match on DeleteObject outside its per-key lock; every write with
// s3store.Options.UnguardedWrites) and when a store refuses a condition that holds (a second
// read finds the state unchanged: versitygw v1.8.0 answers If-None-Match over a current
// delete marker with 412). Verification is best effort: interleavings of three or more
// writers inside one unguarded write are left to the reconciler. A Store that is not a
// ConditionalStore writes unconditionally and is exposed to the race. If-Match compares
// contents, not versions: a concurrent write of byte-identical content (same ETag) is not
// seen; the Regions then hold the same bytes with different marks, which the reconciler
// repairs.
//
// Marks (user metadata, docs/contracts.md): mrap-origin-region, mrap-origin-version-id,
// mrap-origin-time (RFC 3339, nanoseconds, UTC) and mrap-origin-sequencer (when known). A
// version without mrap-origin-region is an original; its origin is (its Region, its version
// id, its Last-Modified truncated to the second, the event sequencer when known). Last-Modified
// is truncated because HTTP dates carry seconds, so every Region computes the same origin time
// for the same version whichever API it read it from.
//
// Conflict rule (CompareIn; docs/contracts.md "Conflict rule" is the one source): writes of
// different origin Regions: the later origin time, then the greater origin Region name. Two
// writes of one origin Region: that bucket's own order, never the version id string: the
// greater sequencer when both are known, else the order in which the origin bucket lists its
// versions of the key (its current version first). When a pair needs that order (NeedsOrder)
// the engine lists the origin Region's versions of the key once for the change (OrderOf) and
// hands it to DecideDestination in Decision.Order; a listing that fails fails the destination
// retryably. Concurrent writes of one key in two Regions therefore converge to the same
// winner everywhere, and two writes of one second in one Region keep the later one.
//
// Deletes. "Delete Marker Created" is replicated while the source's current version is still
// that delete marker and is not one the engine wrote (skip "replica"): each destination whose
// current version is an object that does not win against the marker's origin (its Region,
// version id and Last-Modified) gets a delete marker (DeleteObject without version id).
//
// Delete markers carry no metadata. With a MarkerStore (s3store) the engine records the origin
// of every delete marker it writes (the marker record of docs/contracts.md, "Replica marks",
// written right after the DeleteObject), and the store hands a current
// marker's recorded marks back in Version.Metadata: the marker then has the origin of the
// delete it replicates, not the time the engine wrote it, so a user write made between the
// delete and its replica wins (otherwise the replica marker would beat it at the
// destination, and its echo would delete it everywhere, even where it was written). A marker
// without a record (a user's delete; or the engine stopped between the DeleteObject and the
// record, or its echo was read in between) is an original, as before. A destination whose current version is already a delete
// marker, or that has no version of the key, is left as it is ("destination-deleted",
// "destination-absent"). Permanent version deletes and lifecycle expirations are replicated
// only when configured (Options.ReplicatePermanentDeletes, ReplicateLifecycleDeletes): the
// destination versions whose marks name the deleted origin version are deleted; otherwise
// they are skipped as "permanent-delete-not-replicated".
//
// Errors. The Store retries throttling, 5xx and timeouts (the SDK standard retryer). Errors
// it marks permanent (access denied, missing bucket) and malformed changes fail the record
// with a clear message (IsPermanent reports them); nothing is dropped silently.
package replication
