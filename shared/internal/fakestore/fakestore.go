// Package fakestore is the in-memory versioned store every engine unit test runs over: one
// versioned bucket per Region behind replication.Store and replication.MarkerStore (and
// replication.ConditionalStore through Conditional), as unkind as S3 is allowed to be:
//   - version ids are opaque and sort against time: each new id sorts before every earlier
//     one (Descending, the default) or anywhere (Random, seeded); Ascending exists only to
//     show that a test depends on the order;
//   - Last-Modified has one-second precision (the clock keeps nanoseconds, reads truncate);
//   - DeleteObject without a version id adds a delete marker, even over a deleted key;
//   - a HEAD of a key whose current version is a delete marker answers 404 with
//     x-amz-delete-marker: true, and with Options.BareMarkerHead nothing else (AWS documents
//     no version id nor Last-Modified there): HeadObject;
//   - listings give a key's versions and delete markers newest first, keys in byte order,
//     paged like ListObjectVersions, without user metadata.
//
// It records every call ("Op region") and can fail any of them (FailOn). BeforeWrite runs
// before a write lands, outside the lock, so race tests can slip competing writes in.
package fakestore

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

// IDs says how new version ids sort against the earlier ones of the store.
type IDs int

// The version id schemes.
const (
	// Descending: every new version id sorts (byte order) before every earlier one.
	Descending IDs = iota
	// Random: version ids are random strings (seeded by Options.Seed).
	Random
	// Ascending: version ids sort by write time, as versitygw's happen to.
	Ascending
)

// String names the scheme.
func (i IDs) String() string {
	switch i {
	case Descending:
		return "descending"
	case Random:
		return "random"
	case Ascending:
		return "ascending"
	}
	return fmt.Sprintf("IDs(%d)", int(i))
}

// Options configure a Store.
type Options struct {
	IDs  IDs
	Seed uint64 // seed of Random ids
	// Start is the clock's first reading (default 2026-03-01T12:00:00Z).
	Start time.Time
	// Step advances the clock before every write (default 0: writes share the time until Tick).
	Step time.Duration
	// BareMarkerHead: HeadObject of a key whose current version is a delete marker answers
	// only 404 and x-amz-delete-marker: true, without x-amz-version-id and Last-Modified.
	BareMarkerHead bool
}

// Store is a versioned bucket per Region. The zero value is not usable: call New.
type Store struct {
	mu      sync.Mutex
	opts    Options
	now     time.Time
	seq     int
	rng     *rand.Rand
	ids     map[string]bool
	objects map[string]map[string][]replication.Version // region -> key -> versions, oldest first
	data    map[string]string                           // region + "/" + version id -> body
	fail    map[string]error                            // "Op region" -> error to return
	calls   []string
	maxKeys int

	// BeforeWrite, when set, runs before every write of the engine (copy, delete marker)
	// lands, outside the lock. Set it before the store is used.
	BeforeWrite func(region, key string)
}

var (
	_ replication.Store       = (*Store)(nil)
	_ replication.MarkerStore = (*Store)(nil)
)

// New returns a store with an empty versioned bucket in every region.
func New(opts Options, regions ...string) *Store {
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	}
	s := &Store{opts: opts, now: opts.Start, rng: rand.New(rand.NewPCG(opts.Seed, 0xfa4e)), ids: map[string]bool{},
		objects: map[string]map[string][]replication.Version{}, data: map[string]string{}, fail: map[string]error{}}
	for _, r := range regions {
		s.objects[r] = map[string][]replication.Version{}
	}
	return s
}

// Tick advances the clock.
func (s *Store) Tick(d time.Duration) { s.mu.Lock(); s.now = s.now.Add(d); s.mu.Unlock() }

// Now returns the clock.
func (s *Store) Now() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.now }

// FailOn makes every call of op (a method name: "Head", "Copy", "ListVersions", ...) in
// region answer err; a nil err clears it.
func (s *Store) FailOn(op, region string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.fail, op+" "+region)
		return
	}
	s.fail[op+" "+region] = err
}

// Calls returns the calls made so far, "Op region" each, in order.
func (s *Store) Calls() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.calls) }

// Count returns how many calls of op were made (in any Region).
func (s *Store) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if strings.HasPrefix(c, op+" ") {
			n++
		}
	}
	return n
}

// ResetCalls forgets the calls made so far.
func (s *Store) ResetCalls() { s.mu.Lock(); s.calls = nil; s.maxKeys = 0; s.mu.Unlock() }

// MaxKeysAsked returns the largest MaxKeys a listing asked for.
func (s *Store) MaxKeysAsked() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxKeys }

// Record records a call of op in region and returns the error FailOn set for it, for
// wrappers that add methods of their own (a streaming store's Open).
func (s *Store) Record(op, region string) error { return s.record(op, region) }

// CopyNow lands a copy as Copy does, without recording a call, running BeforeWrite or
// checking a condition: for wrappers that record their own.
func (s *Store) CopyNow(req replication.CopyRequest) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copy(req)
}

func (s *Store) record(op, region string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, op+" "+region)
	if _, ok := s.objects[region]; !ok {
		return replication.Permanent(fmt.Errorf("%s in %s: no such bucket", op, region))
	}
	return s.fail[op+" "+region]
}

func (s *Store) newID() string {
	s.seq++
	for {
		var id string
		switch s.opts.IDs {
		case Descending:
			id = fmt.Sprintf("%012d", 999_999_999_999-s.seq)
		case Random:
			const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
			b := make([]byte, 16)
			for i := range b {
				b[i] = alphabet[s.rng.IntN(len(alphabet))]
			}
			id = string(b)
		default:
			id = fmt.Sprintf("%012d", s.seq)
		}
		if !s.ids[id] {
			s.ids[id] = true
			return id
		}
	}
}

// write lands v (metadata and kind set by the caller) as key's new current version; the
// caller holds s.mu.
func (s *Store) write(region, key string, v replication.Version, body string) replication.Version {
	s.now = s.now.Add(s.opts.Step)
	v.Exists, v.VersionID, v.LastModified = true, s.newID(), s.now.Truncate(time.Second)
	v.Metadata = maps.Clone(v.Metadata)
	if !v.DeleteMarker {
		v.ETag, v.Size = fmt.Sprintf("%q", body), int64(len(body))
	} else {
		v.ETag, v.Size, v.Content = "", 0, replication.Content{}
	}
	s.objects[region][key] = append(s.objects[region][key], v)
	s.data[region+"/"+v.VersionID] = body
	return v
}

// Put is a user's PutObject of body with user metadata meta.
func (s *Store) Put(region, key, body string, meta map[string]string) replication.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(region, key, replication.Version{Metadata: meta}, body)
}

// Delete is a user's DeleteObject without a version id: a delete marker.
func (s *Store) Delete(region, key string) replication.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(region, key, replication.Version{DeleteMarker: true}, "")
}

// Current returns key's current version in region with its metadata (Exists false: none).
func (s *Store) Current(region, key string) replication.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current(region, key)
}

func (s *Store) current(region, key string) replication.Version {
	vs := s.objects[region][key]
	if len(vs) == 0 {
		return replication.Version{}
	}
	v := vs[len(vs)-1]
	v.Metadata = maps.Clone(v.Metadata)
	return v
}

// Versions returns every version of key in region, newest first, with metadata.
func (s *Store) Versions(region, key string) []replication.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := slices.Clone(s.objects[region][key])
	slices.Reverse(vs)
	return vs
}

// Keys returns the keys of region with at least one version, in byte order.
func (s *Store) Keys(region string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.objects[region]))
}

// Body returns the bytes of one version.
func (s *Store) Body(region, versionID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[region+"/"+versionID]
}

// Head implements replication.Store: the current version with its metadata (for a delete
// marker the engine wrote, the marks recorded for it).
func (s *Store) Head(_ context.Context, region, _, key string) (replication.Version, error) {
	if err := s.record("Head", region); err != nil {
		return replication.Version{}, err
	}
	return s.Current(region, key), nil
}

// HeadVersion implements replication.Store.
func (s *Store) HeadVersion(_ context.Context, region, _, key, id string) (replication.Version, error) {
	if err := s.record("HeadVersion", region); err != nil {
		return replication.Version{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.objects[region][key] {
		if v.VersionID == id {
			v.Metadata = maps.Clone(v.Metadata)
			return v, nil
		}
	}
	return replication.Version{}, fmt.Errorf("head %q version %s in %s: %w", key, id, region, replication.ErrNotFound)
}

func (s *Store) hook(region, key string) {
	if s.BeforeWrite != nil {
		s.BeforeWrite(region, key)
	}
}

// Copy implements replication.Store (unconditionally: Conditional checks conditions).
func (s *Store) Copy(_ context.Context, req replication.CopyRequest) (int64, error) {
	if err := s.record("Copy", req.DestRegion); err != nil {
		return 0, err
	}
	s.hook(req.DestRegion, req.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copy(req)
}

// copy writes a replica; the caller holds s.mu.
func (s *Store) copy(req replication.CopyRequest) (int64, error) {
	if _, ok := s.objects[req.SourceRegion]; !ok {
		return 0, replication.Permanent(fmt.Errorf("copy from %s: no such bucket", req.SourceRegion))
	}
	i := slices.IndexFunc(s.objects[req.SourceRegion][req.Key], func(v replication.Version) bool {
		return v.VersionID == req.Source.VersionID && !v.DeleteMarker
	})
	if i < 0 {
		return 0, fmt.Errorf("copy %q version %s from %s: %w", req.Key, req.Source.VersionID, req.SourceRegion, replication.ErrNotFound)
	}
	src := s.objects[req.SourceRegion][req.Key][i]
	meta := maps.Clone(src.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	maps.Copy(meta, req.Marks)
	v := s.write(req.DestRegion, req.Key, replication.Version{Metadata: meta, Content: src.Content, StorageClass: src.StorageClass}, s.data[req.SourceRegion+"/"+src.VersionID])
	return v.Size, nil
}

// PutDeleteMarker implements replication.Store.
func (s *Store) PutDeleteMarker(_ context.Context, region, _, key string) error {
	if err := s.record("PutDeleteMarker", region); err != nil {
		return err
	}
	s.hook(region, key)
	s.Delete(region, key)
	return nil
}

// PutReplicaDeleteMarker implements replication.MarkerStore: the marks are kept with the
// marker (Head and HeadVersion return them, listings do not). The condition is not checked
// (Conditional checks it).
func (s *Store) PutReplicaDeleteMarker(_ context.Context, region, _, key string, origin replication.Origin, _ replication.Condition) error {
	if err := s.record("PutDeleteMarker", region); err != nil {
		return err
	}
	s.hook(region, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.write(region, key, replication.Version{DeleteMarker: true, Metadata: origin.Marks()}, "")
	return nil
}

// MarkerMarks implements replication.MarkerStore.
func (s *Store) MarkerMarks(_ context.Context, region, _, key, id string) (map[string]string, error) {
	if err := s.record("MarkerMarks", region); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.objects[region][key] {
		if v.VersionID == id && v.DeleteMarker {
			return maps.Clone(v.Metadata), nil
		}
	}
	return nil, nil
}

// ListVersions implements replication.Store: newest first, no metadata.
func (s *Store) ListVersions(_ context.Context, region, _, key string) ([]replication.Version, error) {
	if err := s.record("ListVersions", region); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.objects[region][key]
	out := make([]replication.Version, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		v.Metadata = nil
		out = append(out, v)
	}
	return out, nil
}

// DeleteVersion implements replication.Store.
func (s *Store) DeleteVersion(_ context.Context, region, _, key, id string) error {
	if err := s.record("DeleteVersion", region); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.objects[region][key]
	for i, v := range vs {
		if v.VersionID == id {
			s.objects[region][key] = append(vs[:i:i], vs[i+1:]...)
			if len(s.objects[region][key]) == 0 {
				delete(s.objects[region], key)
			}
			return nil
		}
	}
	return fmt.Errorf("delete %q version %s in %s: %w", key, id, region, replication.ErrNotFound)
}

// Listed is one entry of a ListObjectVersions page.
type Listed struct {
	Key    string
	Latest bool
	replication.Version
}

// Page is one ListObjectVersions page: entries in key order, each key's newest first.
type Page struct {
	Entries                            []Listed
	Truncated                          bool
	NextKeyMarker, NextVersionIDMarker string
}

// ListPage lists like ListObjectVersions: keys under prefix after keyMarker (and, within
// keyMarker, after versionIDMarker), at most maxKeys entries (0: all).
func (s *Store) ListPage(region, prefix, keyMarker, versionIDMarker string, maxKeys int) (Page, error) {
	if err := s.record("ListPage", region); err != nil {
		return Page{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxKeys = max(s.maxKeys, maxKeys)
	keys := slices.Sorted(maps.Keys(s.objects[region]))
	var all []Listed
	for _, k := range keys[sort.SearchStrings(keys, keyMarker):] {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		vs := s.objects[region][k]
		for j := len(vs) - 1; j >= 0; j-- {
			v := vs[j]
			v.Metadata = nil
			all = append(all, Listed{Key: k, Latest: j == len(vs)-1, Version: v})
		}
	}
	start := 0
	for start < len(all) {
		e := all[start]
		if e.Key < keyMarker || e.Key == keyMarker && versionIDMarker == "" {
			start++
			continue
		}
		if e.Key == keyMarker {
			start++
			if e.VersionID == versionIDMarker {
				break
			}
			continue
		}
		break
	}
	p := Page{Entries: all[start:]}
	if maxKeys > 0 && len(p.Entries) > maxKeys {
		p.Entries, p.Truncated = p.Entries[:maxKeys], true
		last := p.Entries[len(p.Entries)-1]
		p.NextKeyMarker, p.NextVersionIDMarker = last.Key, last.VersionID
	}
	return p, nil
}

// HeadObject answers a HEAD as S3 does: the status and the headers S3 documents. With no
// version id: 200 for a current object, 404 with x-amz-delete-marker: true for a current
// delete marker (plus x-amz-version-id and Last-Modified unless Options.BareMarkerHead), a
// bare 404 for a key without versions. With a version id: 200, 405 with
// x-amz-delete-marker: true for a delete marker's id, 404 for an unknown id.
func (s *Store) HeadObject(region, key, versionID string) (int, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := http.Header{}
	var v replication.Version
	if versionID == "" {
		v = s.current(region, key)
	} else if i := slices.IndexFunc(s.objects[region][key], func(x replication.Version) bool { return x.VersionID == versionID }); i >= 0 {
		v = s.objects[region][key][i]
	}
	switch {
	case !v.Exists:
		return http.StatusNotFound, h
	case v.DeleteMarker:
		h.Set("x-amz-delete-marker", "true")
		if versionID != "" {
			h.Set("x-amz-version-id", v.VersionID)
			return http.StatusMethodNotAllowed, h
		}
		if !s.opts.BareMarkerHead {
			h.Set("x-amz-version-id", v.VersionID)
			h.Set("Last-Modified", v.LastModified.UTC().Format(http.TimeFormat))
		}
		return http.StatusNotFound, h
	}
	h.Set("x-amz-version-id", v.VersionID)
	h.Set("Last-Modified", v.LastModified.UTC().Format(http.TimeFormat))
	h.Set("ETag", v.ETag)
	for k, val := range v.Metadata {
		h.Set("x-amz-meta-"+k, val)
	}
	return http.StatusOK, h
}
