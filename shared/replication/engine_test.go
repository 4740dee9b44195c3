package replication_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/internal/fakestore"
	. "github.com/mrap-engine/mrap/shared/replication"
)

// memStore is the shared fake (shared/internal/fakestore) with the short helpers these
// tests use. Its version ids sort against time (descending, then random: TestMain runs the
// package once with each).
type memStore struct{ *fakestore.Store }

// scheme is the version id scheme of this run of the package's tests: TestMain runs the
// tests once per scheme (MRAP_FAKE_SEED replays the random one).
var scheme fakestore.Scheme

func TestMain(m *testing.M) {
	os.Exit(fakestore.RunEachScheme(m, func(s fakestore.Scheme) { scheme = s }))
}

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t2 = t0.Add(2 * time.Second)
)

func newMemStore(regions ...string) *memStore {
	return &memStore{fakestore.New(fakestore.Options{IDs: scheme.IDs, Seed: scheme.Seed, Start: t0}, regions...)}
}

func (s *memStore) tick(d time.Duration) { s.Tick(d) }

// put is a user write.
func (s *memStore) put(region, key, body string, meta map[string]string) Version {
	return s.Put(region, key, body, meta)
}

// del is a user delete without version id.
func (s *memStore) del(region, key string) Version { return s.Delete(region, key) }

func (s *memStore) current(region, key string) Version { return s.Current(region, key) }

// body returns the bytes of region's current version of key.
func (s *memStore) body(region, key string) string {
	return s.Body(region, s.Current(region, key).VersionID)
}

// count returns the versions of key in region.
func (s *memStore) count(region, key string) int { return len(s.Versions(region, key)) }

var members = []config.Member{{Region: "eu-west-1", Bucket: "b-eu"}, {Region: "us-east-1", Bucket: "b-us"}, {Region: "ap-southeast-2", Bucket: "b-ap"}}

func bucketOf(region string) string {
	for _, m := range members {
		if m.Region == region {
			return m.Bucket
		}
	}
	return ""
}

func createdEvent(region, key string, v Version) events.ObjectChange {
	return events.ObjectChange{Region: region, Bucket: bucketOf(region), Key: key, RawKey: key, VersionID: v.VersionID, Size: v.Size, Kind: events.Created, Reason: events.ReasonPutObject, EventTime: v.LastModified}
}

func markerEvent(region, key string, v Version) events.ObjectChange {
	return events.ObjectChange{Region: region, Bucket: bucketOf(region), Key: key, RawKey: key, VersionID: v.VersionID, Kind: events.DeleteMarkerCreated, Reason: events.ReasonDeleteObject, EventTime: v.LastModified}
}

func newEngine(t *testing.T, s Store, opts Options) *Engine {
	t.Helper()
	e, err := New(s, members, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func statuses(r Result) map[string]string {
	out := map[string]string{}
	for _, o := range r.Destinations {
		out[o.Region] = string(o.Status) + ":" + o.Reason
	}
	return out
}

func TestApplyCopiesToEveryOtherMember(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	v := s.put("eu-west-1", "k", "hello", map[string]string{"owner": "me"})
	res, err := newEngine(t, s, Options{}).Apply(context.Background(), createdEvent("eu-west-1", "k", v))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(res), map[string]string{"us-east-1": "replicated:", "ap-southeast-2": "replicated:"}; !maps.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if res.Bytes() != 10 {
		t.Errorf("Bytes() = %d, want 10", res.Bytes())
	}
	for _, r := range []string{"us-east-1", "ap-southeast-2"} {
		cur := s.current(r, "k")
		if cur.Metadata["owner"] != "me" || cur.Metadata[MarkOriginRegion] != "eu-west-1" || cur.Metadata[MarkOriginVersionID] != v.VersionID || cur.Metadata[MarkOriginTime] != t0.Format(time.RFC3339Nano) {
			t.Errorf("%s holds %+v, want user metadata and marks naming %s", r, cur.Metadata, v.VersionID)
		}
		if s.Body(r, cur.VersionID) != "hello" {
			t.Errorf("%s body = %q", r, s.Body(r, cur.VersionID))
		}
	}
}

func TestApplySkipsReplicaEvents(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	v := s.put("eu-west-1", "k", "x", nil)
	if _, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v)); err != nil {
		t.Fatal(err)
	}
	replica := s.current("us-east-1", "k")
	before := s.count("eu-west-1", "k")
	res, err := e.Apply(context.Background(), createdEvent("us-east-1", "k", replica))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(res), map[string]string{"eu-west-1": "skipped:replica", "ap-southeast-2": "skipped:replica"}; !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if after := s.count("eu-west-1", "k"); after != before {
		t.Errorf("origin got %d new versions from its own replica's event, want 0 (loop)", after-before)
	}
}

func TestApplyDuplicateEventIsIdempotent(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	v := s.put("eu-west-1", "k", "x", nil)
	ev := createdEvent("eu-west-1", "k", v)
	if _, err := e.Apply(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()
	res, err := e.Apply(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(res), map[string]string{"us-east-1": "skipped:duplicate", "ap-southeast-2": "skipped:duplicate"}; !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if n := s.count("us-east-1", "k"); n != 1 {
		t.Errorf("destination holds %d versions, want 1", n)
	}
	for _, c := range s.Calls() {
		if strings.HasPrefix(c, "Copy") {
			t.Errorf("duplicate event made a copy: %v", s.Calls())
		}
	}
}

func TestApplyReorderedEventsNeverRegress(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	v1 := s.put("eu-west-1", "k", "old", nil)
	s.tick(time.Second)
	v2 := s.put("eu-west-1", "k", "new", nil)
	if _, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v2)); err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v1))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res)["us-east-1"]; got != "skipped:superseded" {
		t.Errorf("late event for the old version: %s, want skipped:superseded", got)
	}
	if got := s.body("us-east-1", "k"); got != "new" {
		t.Errorf("destination holds %q, want the newer write", got)
	}
}

func TestApplyConcurrentWritesConverge(t *testing.T) {
	for _, order := range []string{"eu first", "us first"} {
		t.Run(order, func(t *testing.T) {
			s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			e := newEngine(t, s, Options{})
			veu := s.put("eu-west-1", "k", "from-eu", nil)
			s.tick(200 * time.Millisecond) // same second: the tie goes to the greater Region name
			vus := s.put("us-east-1", "k", "from-us", nil)
			evs := []events.ObjectChange{createdEvent("eu-west-1", "k", veu), createdEvent("us-east-1", "k", vus)}
			if order == "us first" {
				evs[0], evs[1] = evs[1], evs[0]
			}
			for _, ev := range evs {
				if _, err := e.Apply(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range members {
				if got := s.body(m.Region, "k"); got != "from-us" {
					t.Errorf("%s holds %q, want from-us (us-east-1 > eu-west-1)", m.Region, got)
				}
			}
		})
	}
}

func TestApplyLaterWriteWinsAcrossRegions(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	vus := s.put("us-east-1", "k", "early-us", nil)
	s.tick(3 * time.Second)
	veu := s.put("eu-west-1", "k", "late-eu", nil)
	for _, ev := range []events.ObjectChange{createdEvent("eu-west-1", "k", veu), createdEvent("us-east-1", "k", vus)} {
		if _, err := e.Apply(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		if got := s.body(m.Region, "k"); got != "late-eu" {
			t.Errorf("%s holds %q, want late-eu", m.Region, got)
		}
	}
}

func TestApplyDeleteMarker(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	v := s.put("eu-west-1", "k", "x", nil)
	if _, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v)); err != nil {
		t.Fatal(err)
	}
	s.tick(time.Second)
	s.put("ap-southeast-2", "k", "newer-in-ap", nil) // a newer write in one destination
	s.tick(500 * time.Millisecond)
	m := s.del("eu-west-1", "k")
	// ap's write (t0+1s) ties with the marker (t0+1.5s, truncated to t0+1s): eu-west-1 > ap-southeast-2, so the marker wins there too.
	res, err := e.Apply(context.Background(), markerEvent("eu-west-1", "k", m))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(res), map[string]string{"us-east-1": "replicated:", "ap-southeast-2": "replicated:"}; !maps.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	for _, r := range []string{"us-east-1", "ap-southeast-2"} {
		if !s.current(r, "k").DeleteMarker {
			t.Errorf("%s current is not a delete marker", r)
		}
	}
	// The engine's own delete marker in us-east-1 raises an event; it must not bounce back:
	// its recorded origin makes it a replica.
	res, err = e.Apply(context.Background(), markerEvent("us-east-1", "k", s.current("us-east-1", "k")))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got["eu-west-1"] != "skipped:replica" || got["ap-southeast-2"] != "skipped:replica" {
		t.Errorf("echo of the delete marker: %v, want skipped:replica everywhere", got)
	}
	if n := s.count("eu-west-1", "k"); n != 2 {
		t.Errorf("origin holds %d versions, want 2 (no extra marker)", n)
	}
}

func TestApplyDeleteMarkerLosesToNewerWrite(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	s.put("us-east-1", "k", "x", nil)
	s.put("eu-west-1", "k", "x", nil)
	m := s.del("eu-west-1", "k")
	s.tick(2 * time.Second)
	s.put("us-east-1", "k", "newer", nil)
	res, err := e.Apply(context.Background(), markerEvent("eu-west-1", "k", m))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got["us-east-1"] != "skipped:destination-newer" || got["ap-southeast-2"] != "skipped:destination-absent" {
		t.Errorf("outcomes %v", got)
	}
	if s.current("us-east-1", "k").DeleteMarker {
		t.Error("older delete marker hid a newer write")
	}
}

func TestApplyPermanentDeletes(t *testing.T) {
	tests := []struct {
		name        string
		reason      string
		opts        Options
		wantStatus  string
		wantDeleted bool
	}{
		{name: "not replicated by default", reason: events.ReasonDeleteObject, wantStatus: "skipped:permanent-delete-not-replicated"},
		{name: "replicated when configured", reason: events.ReasonDeleteObject, opts: Options{Policy: Policy{ReplicatePermanentDeletes: true}}, wantStatus: "replicated:", wantDeleted: true},
		{name: "lifecycle not replicated by the permanent switch", reason: events.ReasonLifecycleExpiration, opts: Options{Policy: Policy{ReplicatePermanentDeletes: true}}, wantStatus: "skipped:permanent-delete-not-replicated"},
		{name: "lifecycle replicated when configured", reason: events.ReasonLifecycleExpiration, opts: Options{Policy: Policy{ReplicateLifecycleDeletes: true}}, wantStatus: "replicated:", wantDeleted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			e := newEngine(t, s, tt.opts)
			v1 := s.put("eu-west-1", "k", "one", nil)
			if _, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v1)); err != nil {
				t.Fatal(err)
			}
			s.tick(time.Second)
			v2 := s.put("eu-west-1", "k", "two", nil)
			if _, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v2)); err != nil {
				t.Fatal(err)
			}
			_ = s.DeleteVersion(context.Background(), "eu-west-1", "b-eu", "k", v1.VersionID)
			ev := events.ObjectChange{Region: "eu-west-1", Bucket: "b-eu", Key: "k", RawKey: "k", VersionID: v1.VersionID, Kind: events.PermanentlyDeleted, Reason: tt.reason}
			res, err := e.Apply(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res)["us-east-1"]; got != tt.wantStatus {
				t.Errorf("outcome %s, want %s", got, tt.wantStatus)
			}
			wantVersions := 2
			if tt.wantDeleted {
				wantVersions = 1
			}
			if n := s.count("us-east-1", "k"); n != wantVersions {
				t.Errorf("destination holds %d versions, want %d", n, wantVersions)
			}
			if got := s.body("us-east-1", "k"); got != "two" {
				t.Errorf("destination current = %q, want two", got)
			}
		})
	}
}

func TestApplySourceVersionGone(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	v := s.put("eu-west-1", "k", "x", nil)
	_ = s.DeleteVersion(context.Background(), "eu-west-1", "", "k", v.VersionID)
	res, err := newEngine(t, s, Options{}).Apply(context.Background(), createdEvent("eu-west-1", "k", v))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res)["us-east-1"]; got != "skipped:source-version-gone" {
		t.Errorf("outcome %s, want skipped:source-version-gone", got)
	}
}

func TestApplyFallsBackToRawKey(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	// The object's real key is "a+b" but the event carried it unencoded, so DecodeKey yields "a b".
	v := s.put("eu-west-1", "a+b", "x", nil)
	ev := createdEvent("eu-west-1", "a b", v)
	ev.RawKey = "a+b"
	res, err := newEngine(t, s, Options{}).Apply(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != "a+b" || statuses(res)["us-east-1"] != "replicated:" {
		t.Fatalf("key %q outcomes %v, want the raw key replicated", res.Key, statuses(res))
	}
	if !s.current("us-east-1", "a+b").Exists || s.current("us-east-1", "a b").Exists {
		t.Error("replica written under the wrong key")
	}
}

func TestApplyErrors(t *testing.T) {
	denied := Permanent(errors.New("AccessDenied: access denied"))
	throttled := errors.New("SlowDown: please reduce your request rate")
	tests := []struct {
		name          string
		change        func(v Version) events.ObjectChange
		fail          map[string]error
		wantPermanent bool
		wantErr       string
		wantStatuses  map[string]string
	}{
		{name: "malformed change fails every destination permanently", change: func(v Version) events.ObjectChange {
			c := createdEvent("eu-west-1", "k", v)
			c.Bucket = ""
			return c
		}, wantPermanent: true, wantErr: "lacks bucket", wantStatuses: map[string]string{"us-east-1": "failed:", "ap-southeast-2": "failed:"}},
		{name: "unknown Region", change: func(v Version) events.ObjectChange {
			c := createdEvent("eu-west-1", "k", v)
			c.Region = "sa-east-1"
			return c
		}, wantPermanent: true, wantErr: "not a member Region", wantStatuses: map[string]string{"eu-west-1": "failed:", "us-east-1": "failed:", "ap-southeast-2": "failed:"}},
		{name: "foreign bucket", change: func(v Version) events.ObjectChange {
			c := createdEvent("eu-west-1", "k", v)
			c.Bucket = "someone-else"
			return c
		}, wantPermanent: true, wantErr: "member bucket of eu-west-1", wantStatuses: map[string]string{"us-east-1": "failed:", "ap-southeast-2": "failed:"}},
		{name: "source unreadable fails every destination", fail: map[string]error{"Head eu-west-1": denied}, wantPermanent: true, wantErr: "read source",
			wantStatuses: map[string]string{"us-east-1": "failed:", "ap-southeast-2": "failed:"}},
		{name: "one destination denied: only it fails", fail: map[string]error{"Copy us-east-1": denied}, wantPermanent: true, wantErr: "copy to b-us",
			wantStatuses: map[string]string{"us-east-1": "failed:", "ap-southeast-2": "replicated:"}},
		{name: "throttled destination read is a retryable failure", fail: map[string]error{"Head ap-southeast-2": throttled}, wantErr: "SlowDown",
			wantStatuses: map[string]string{"us-east-1": "replicated:", "ap-southeast-2": "failed:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			v := s.put("eu-west-1", "k", "x", nil)
			for call, err := range tt.fail {
				op, region, _ := strings.Cut(call, " ")
				s.FailOn(op, region, err)
			}
			ev := createdEvent("eu-west-1", "k", v)
			if tt.change != nil {
				ev = tt.change(v)
			}
			res, err := newEngine(t, s, Options{}).Apply(context.Background(), ev)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if IsPermanent(err) != tt.wantPermanent {
				t.Errorf("IsPermanent = %v, want %v", IsPermanent(err), tt.wantPermanent)
			}
			if got := statuses(res); !maps.Equal(got, tt.wantStatuses) {
				t.Errorf("outcomes %v, want %v", got, tt.wantStatuses)
			}
		})
	}
}

func TestNewRejectsBadMembers(t *testing.T) {
	s := newMemStore()
	tests := []struct {
		name    string
		store   Store
		members []config.Member
	}{
		{name: "nil store", members: members},
		{name: "one member", store: s, members: members[:1]},
		{name: "Region twice", store: s, members: []config.Member{{Region: "eu-west-1", Bucket: "a"}, {Region: "eu-west-1", Bucket: "b"}}},
		{name: "empty bucket", store: s, members: []config.Member{{Region: "eu-west-1", Bucket: "a"}, {Region: "us-east-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.store, tt.members, Options{}); err == nil {
				t.Error("New accepted bad input")
			}
		})
	}
}

// memStreaming is memStore as a StreamingStore: Open reads the current version with its body.
type memStreaming struct {
	*memStore
	mu             sync.Mutex
	opened, closed int
}

type memBody struct {
	s       *memStreaming
	version Version
}

func (b *memBody) Close() error { b.s.mu.Lock(); b.s.closed++; b.s.mu.Unlock(); return nil }

func (s *memStreaming) Streams(size int64) bool { return size < 1000 }

func (s *memStreaming) Open(ctx context.Context, region, bucket, key string) (Version, Source, error) {
	if err := s.Record("Open", region); err != nil {
		return Version{}, nil, err
	}
	v := s.Current(region, key)
	if !v.Exists || v.DeleteMarker {
		return v, nil, nil
	}
	s.mu.Lock()
	s.opened++
	s.mu.Unlock()
	return v, &memBody{s: s, version: v}, nil
}

func (s *memStreaming) CopyFrom(_ context.Context, req CopyRequest, src Source) (int64, error) {
	defer src.Close()
	if err := s.Record("CopyFrom", req.DestRegion); err != nil {
		return 0, err
	}
	return s.CopyNow(req)
}

func TestApplyStreamingOpensTheSourceOnce(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(s *memStore) events.ObjectChange
		wantCalls []string // calls at the source and the kinds of copy, sorted
		wantState string
	}{
		{name: "current version: one GET feeds the first copy", setup: func(s *memStore) events.ObjectChange {
			return createdEvent("eu-west-1", "k", s.put("eu-west-1", "k", "x", nil))
		}, wantCalls: []string{"Copy ap-southeast-2|CopyFrom us-east-1", "Head ap-southeast-2", "Head us-east-1", "Open eu-west-1"}, wantState: "replicated:"},
		{name: "superseded: the body is closed unused", setup: func(s *memStore) events.ObjectChange {
			v := s.put("eu-west-1", "k", "x", nil)
			s.put("eu-west-1", "k", "y", nil)
			return createdEvent("eu-west-1", "k", v)
		}, wantCalls: []string{"HeadVersion eu-west-1", "Open eu-west-1"}, wantState: "skipped:superseded"},
		{name: "large object: HEAD, then the store's own copy", setup: func(s *memStore) events.ObjectChange {
			v := s.put("eu-west-1", "k", strings.Repeat("x", 2000), nil)
			return createdEvent("eu-west-1", "k", v)
		}, wantCalls: []string{"Copy ap-southeast-2", "Copy us-east-1", "Head ap-southeast-2", "Head eu-west-1", "Head us-east-1"}, wantState: "replicated:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			ev := tt.setup(mem)
			s := &memStreaming{memStore: mem}
			mem.ResetCalls()
			res, err := newEngine(t, s, Options{}).Apply(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res)["us-east-1"]; got != tt.wantState {
				t.Errorf("outcome %s, want %s", got, tt.wantState)
			}
			calls := slicesSorted(mem.Calls())
			// The two copies run in parallel: either destination may take the opened body.
			if len(calls) > 0 && strings.HasPrefix(calls[0], "Copy") && strings.HasPrefix(tt.wantCalls[0], "Copy ap-southeast-2|") {
				if calls[0]+"|"+calls[1] == "Copy ap-southeast-2|CopyFrom us-east-1" || calls[0]+"|"+calls[1] == "Copy us-east-1|CopyFrom ap-southeast-2" {
					calls = append([]string{tt.wantCalls[0]}, calls[2:]...)
				}
			}
			if strings.Join(calls, ",") != strings.Join(tt.wantCalls, ",") {
				t.Errorf("calls %v, want %v", calls, tt.wantCalls)
			}
			if s.opened != s.closed {
				t.Errorf("opened %d bodies, closed %d", s.opened, s.closed)
			}
		})
	}
}

func slicesSorted(in []string) []string {
	out := append([]string(nil), in...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
