package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/faults"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// chaosRegions are the three local Regions of the chaos test.
var chaosRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

// chaosWorld is three versitygw Regions, a fault proxy in front of each (the engine's view of
// the Region), one replication engine per Region whose S3 clients go through a chaos
// transport, one chaos queue per Region, and the record of every acknowledged user write.
type chaosWorld struct {
	t         testing.TB
	seed      uint64
	servers   map[string]*s3server.Server
	proxies   map[string]*faults.Proxy
	proxyURL  map[string]string
	members   []config.Member
	transport *chaosTransport
	engines   map[string]*replication.Engine
	queues    map[string]*chaosQueue
	direct    map[string]*s3.Client // user and test clients: straight to versitygw, no faults

	locks     sync.Map // region+"\x00"+key -> *sync.Mutex: S3 orders the writes of one key in one bucket
	sequencer atomic.Int64

	mu     sync.Mutex
	writes map[string][]ackWrite  // by key
	tags   map[string][]tagChange // acknowledged user tag changes, by key
	failed map[string]string      // keys with a write whose outcome is unknown (user client error)
	// permanentMsgs holds the first errors the engine marked permanent.
	permanentMsgs []string

	applyErrors, permanentErrors atomic.Int64
	echoes, noopDeletes          atomic.Int64
	fates                        [numberOfEventFates]atomic.Int64 // user events by fate
	noopTags                     atomic.Int64                     // tag changes of a deleted key (nothing to tag)
}

// tagChange is one acknowledged user tag change: the new tag set of the version that was
// current in Region, a copy of the write Origin.
type tagChange struct {
	Region, Key, VersionID string
	Origin                 replication.Origin
	Tags                   map[string]string
	Seq                    string // order among all changes (w.nextSequencer)
	Op                     string
}

// ackWrite is one acknowledged user write: a put or a delete (marker), with what the user
// wrote and what S3 answered.
type ackWrite struct {
	Region, Key, VersionID string
	LastModified           time.Time
	Sequencer              string
	Deleted                bool
	Hash, ContentType      string
	Meta, Tags             map[string]string
	Op                     string // "region/worker/op" for failure reports
}

func (w ackWrite) origin() replication.Origin {
	o, _, _ := replication.OriginOf(w.Region, w.VersionID, w.LastModified, w.Sequencer, nil)
	return o
}

// startChaosWorld starts the Regions and wires the engines. s3MarkerTimes puts every client
// behind a markerClock (delete markers timed like S3's, see markerClock).
func startChaosWorld(t testing.TB, seed uint64, qf queueFaults, tf transportFaults, s3MarkerTimes bool) *chaosWorld {
	t.Helper()
	w := &chaosWorld{t: t, seed: seed, servers: map[string]*s3server.Server{}, proxies: map[string]*faults.Proxy{}, proxyURL: map[string]string{},
		engines: map[string]*replication.Engine{}, queues: map[string]*chaosQueue{}, direct: map[string]*s3.Client{},
		writes: map[string][]ackWrite{}, failed: map[string]string{}, tags: map[string][]tagChange{}}
	for _, srv := range startRegions(t, chaosRegions...) {
		w.servers[srv.Region] = srv
	}
	var base http.RoundTripper = plainTransport()
	if s3MarkerTimes {
		base = newMarkerClock(base)
	}
	// Version ids that sort against time, for every client (see opaqueIDs).
	secrets := map[string]string{}
	for _, srv := range w.servers {
		secrets[srv.AccessKey] = srv.SecretKey
	}
	base = newOpaqueIDs(base, secrets)
	w.transport = newChaosTransport(seed+1, tf, base)
	engineClients := map[string]s3store.S3API{}
	for i, r := range chaosRegions {
		srv := w.servers[r]
		w.members = append(w.members, config.Member{Region: r, Bucket: srv.Bucket})
		w.direct[r] = srv.Client(func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: base, Timeout: 30 * time.Second} })
		p, err := faults.New(srv.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(l) }()
		t.Cleanup(func() { _ = hs.Close() })
		w.proxies[r], w.proxyURL[r] = p, "http://"+l.Addr().String()
		engineClients[r] = s3.New(s3.Options{
			Region: r, BaseEndpoint: aws.String(w.proxyURL[r]), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
			HTTPClient:  &http.Client{Transport: w.transport, Timeout: 15 * time.Second},
			Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.MaxBackoff = 100 * time.Millisecond
				o.RateLimiter = ratelimit.None
			}),
		})
		w.queues[r] = newChaosQueue(seed+10+uint64(i), qf)
	}
	// One engine per Region, as the replicator function runs in each Region.
	for _, r := range chaosRegions {
		store, err := s3store.New(engineClients, s3store.Options{PartSize: 5 * s3store.MiB})
		if err != nil {
			t.Fatal(err)
		}
		if w.engines[r], err = replication.New(store, w.members, replication.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *chaosWorld) bucket(region string) string { return w.servers[region].Bucket }

func (w *chaosWorld) lock(region, key string) func() {
	m, _ := w.locks.LoadOrStore(region+"\x00"+key, &sync.Mutex{})
	m.(*sync.Mutex).Lock()
	return m.(*sync.Mutex).Unlock
}

// nextSequencer returns a sequencer greater than every earlier one, in S3's hex shape.
func (w *chaosWorld) nextSequencer() string {
	return fmt.Sprintf("%018X", 0x0062E99A88DC407000+w.sequencer.Add(1))
}

// chaosKeys is the key pool writers share: overlapping keys in every Region, a few with the
// characters event key encoding gets wrong.
func chaosKeys(n int) []string {
	tricky := []string{"tricky/a b+c.txt", "tricky/100% sure:yes", "tricky/café 日本.bin"}
	var out []string
	for i := range n - len(tricky) {
		out = append(out, fmt.Sprintf("k/%04d", i))
	}
	return append(out, tricky...)
}

// eventFate is what happens to the event of one user write.
type eventFate int

const (
	eventSent          eventFate = iota // published with its sequencer
	eventDropped                        // never published (lost before the queue)
	eventNoSequencer                    // published without a sequencer
	numberOfEventFates                  // for counting
)

// put writes a new version of key in region, directly, records it and publishes its event
// (as fate says). It returns the version's Last-Modified (zero when the write failed).
func (w *chaosWorld) put(ctx context.Context, rng *rand.Rand, region, key, op string, fate eventFate) time.Time {
	body := []byte(fmt.Sprintf("%s seed=%d %s", op, w.seed, strings.Repeat("x", rng.IntN(2048))))
	meta := map[string]string{"writer": region, "op": op}
	if rng.IntN(2) == 0 {
		meta["note"] = fmt.Sprintf("n%d", rng.IntN(1000))
	}
	tags := map[string]string{"op": strings.ReplaceAll(op, "/", "-"), "region": region}
	ctype := []string{"text/plain", "application/octet-stream", "application/json"}[rng.IntN(3)]
	tagging := url.Values{}
	for k, v := range tags {
		tagging.Set(k, v)
	}
	unlock := w.lock(region, key)
	out, err := w.direct[region].PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(w.bucket(region)), Key: aws.String(key), Body: bytes.NewReader(body),
		Metadata: meta, ContentType: aws.String(ctype), Tagging: aws.String(tagging.Encode()),
	})
	var head *s3.HeadObjectOutput
	if err == nil {
		head, err = w.direct[region].HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket(region)), Key: aws.String(key), VersionId: out.VersionId})
	}
	seq := w.nextSequencer()
	unlock()
	if err != nil {
		w.unknown(key, fmt.Sprintf("put %s in %s: %v", op, region, err))
		return time.Time{}
	}
	sum := sha256.Sum256(body)
	aw := ackWrite{Region: region, Key: key, VersionID: aws.ToString(out.VersionId), LastModified: aws.ToTime(head.LastModified), Sequencer: seq,
		Hash: hex.EncodeToString(sum[:]), ContentType: ctype, Meta: meta, Tags: tags, Op: op}
	w.record(aw)
	w.publish(aw, int64(len(body)), aws.ToString(out.ETag), fate)
	return aw.LastModified
}

// publish sends the event of an acknowledged user write as fate says.
func (w *chaosWorld) publish(aw ackWrite, size int64, etag string, fate eventFate) {
	w.fates[fate].Add(1)
	switch fate {
	case eventDropped:
		return
	case eventNoSequencer:
		aw.Sequencer = "" // the record keeps it (the test's truth); the event lacks it
	}
	w.queues[aw.Region].publish(chaosEnvelope(aw, size, etag))
}

// del deletes key in region without a version id (a delete marker), records and publishes it
// (as fate says). It returns the marker's Last-Modified (zero when nothing was written).
func (w *chaosWorld) del(ctx context.Context, region, key, op string, fate eventFate) time.Time {
	unlock := w.lock(region, key)
	out, err := w.direct[region].DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(w.bucket(region)), Key: aws.String(key)})
	var lm time.Time
	noop := false
	if err == nil && aws.ToString(out.VersionId) == "" {
		// versitygw v1.8.0 writes no delete marker over a key that is absent or already
		// deleted (S3 would add another marker): nothing happened, no event.
		noop, err = w.servesNothing(ctx, region, key)
	} else if err == nil {
		lm, err = w.markerTime(ctx, region, key, aws.ToString(out.VersionId))
	}
	seq := w.nextSequencer()
	unlock()
	if noop {
		w.noopDeletes.Add(1)
		return time.Time{}
	}
	if err != nil {
		w.unknown(key, fmt.Sprintf("delete %s in %s: %v", op, region, err))
		return time.Time{}
	}
	aw := ackWrite{Region: region, Key: key, VersionID: aws.ToString(out.VersionId), LastModified: lm, Sequencer: seq, Deleted: true, Op: op}
	w.record(aw)
	w.publish(aw, 0, "", fate)
	return lm
}

// tag replaces the tag set of key's current version in region (PutObjectTagging with its
// version id), records the change and publishes its "Object Tags Added" event (as fate says:
// dropped, or sent; tag events carry no sequencer anyway).
func (w *chaosWorld) tag(ctx context.Context, region, key, op string, fate eventFate) {
	tags := map[string]string{"op": strings.ReplaceAll(op, "/", "-"), "region": region, "retagged": "yes"}
	var set []types.Tag
	for k, v := range tags {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	unlock := w.lock(region, key)
	head, err := w.direct[region].HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket(region)), Key: aws.String(key)})
	if err != nil {
		unlock()
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			w.noopTags.Add(1) // deleted or never written: nothing to tag
		} else {
			w.unknown(key, fmt.Sprintf("tag %s in %s: head: %v", op, region, err))
		}
		return
	}
	_, err = w.direct[region].PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(w.bucket(region)), Key: aws.String(key),
		VersionId: head.VersionId, Tagging: &types.Tagging{TagSet: set}})
	seq := w.nextSequencer()
	unlock()
	if err != nil {
		w.unknown(key, fmt.Sprintf("tag %s in %s: %v", op, region, err))
		return
	}
	o := replication.DestinationOrigin(region, replication.Version{Exists: true, VersionID: aws.ToString(head.VersionId), LastModified: aws.ToTime(head.LastModified), Metadata: head.Metadata})
	w.mu.Lock()
	w.tags[key] = append(w.tags[key], tagChange{Region: region, Key: key, VersionID: aws.ToString(head.VersionId), Origin: o, Tags: tags, Seq: seq, Op: op})
	w.mu.Unlock()
	w.fates[fate].Add(1)
	if fate != eventDropped {
		w.queues[region].publish(tagEnvelope(region, key, aws.ToString(head.VersionId), aws.ToString(head.ETag)))
	}
}

// tagEnvelope is the EventBridge "Object Tags Added" event S3 emits for a tag change: version
// id and ETag, no size, sequencer or reason.
func tagEnvelope(region, key, versionID, etag string) []byte {
	ev := events.S3ObjectEvent{
		Envelope: events.Envelope{
			Version: "0", ID: "chaos-tags-" + region + "-" + versionID, DetailType: events.DetailTypeObjectTagsAdded, Source: events.S3EventSource,
			AccountID: "111122223333", Time: time.Now().UTC().Truncate(time.Second), Region: region, Resources: []string{"arn:aws:s3:::mrap-" + region},
		},
		Detail: events.S3ObjectDetail{
			Version: "0", Bucket: events.S3DetailBucket{Name: "mrap-" + region},
			Object:    events.S3DetailObject{Key: strings.ReplaceAll(url.QueryEscape(key), "%2F", "/"), ETag: strings.Trim(etag, `"`), VersionID: versionID},
			RequestID: "CHAOS", Requester: "111122223333", SourceIPAddress: "127.0.0.1",
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// servesNothing reports whether key is absent or deleted in region.
func (w *chaosWorld) servesNothing(ctx context.Context, region, key string) (bool, error) {
	list, err := w.direct[region].ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(w.bucket(region)), Prefix: aws.String(key)})
	if err != nil {
		return false, err
	}
	for _, v := range list.Versions {
		if aws.ToString(v.Key) == key && aws.ToBool(v.IsLatest) {
			return false, fmt.Errorf("delete of %q returned no version id but version %s is current", key, aws.ToString(v.VersionId))
		}
	}
	return true, nil
}

// markerTime reads back the Last-Modified of one delete marker (DeleteObject does not return it).
func (w *chaosWorld) markerTime(ctx context.Context, region, key, versionID string) (time.Time, error) {
	list, err := w.direct[region].ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(w.bucket(region)), Prefix: aws.String(key)})
	if err != nil {
		return time.Time{}, err
	}
	for _, m := range list.DeleteMarkers {
		if aws.ToString(m.Key) == key && aws.ToString(m.VersionId) == versionID {
			return aws.ToTime(m.LastModified), nil
		}
	}
	return time.Time{}, fmt.Errorf("delete marker %s of %q not listed", versionID, key)
}

func (w *chaosWorld) record(aw ackWrite) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes[aw.Key] = append(w.writes[aw.Key], aw)
}

func (w *chaosWorld) unknown(key, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failed[key] = why
}

// chaosEnvelope is the EventBridge event S3 emits for an acknowledged write: key
// form-URL-encoded, version id, sequencer, size and ETag for objects.
func chaosEnvelope(aw ackWrite, size int64, etag string) []byte {
	ev := events.S3ObjectEvent{
		Envelope: events.Envelope{
			Version: "0", ID: "chaos-" + aw.Region + "-" + aw.VersionID, DetailType: events.DetailTypeObjectCreated, Source: events.S3EventSource,
			AccountID: "111122223333", Time: aw.LastModified.UTC().Truncate(time.Second), Region: aw.Region, Resources: []string{"arn:aws:s3:::mrap-" + aw.Region},
		},
		Detail: events.S3ObjectDetail{
			Version: "0", Bucket: events.S3DetailBucket{Name: "mrap-" + aw.Region},
			Object:    events.S3DetailObject{Key: strings.ReplaceAll(url.QueryEscape(aw.Key), "%2F", "/"), Size: size, ETag: strings.Trim(etag, `"`), VersionID: aw.VersionID, Sequencer: aw.Sequencer},
			RequestID: "CHAOS", Requester: "111122223333", SourceIPAddress: "127.0.0.1", Reason: events.ReasonPutObject,
		},
	}
	if aw.Deleted {
		ev.DetailType, ev.Detail.Reason, ev.Detail.DeletionType = events.DetailTypeObjectDeleted, events.ReasonDeleteObject, events.DeletionTypeMarker
	}
	b, _ := json.Marshal(ev)
	return b
}

// deliver runs one replicator worker of region: it receives events, parses them like the
// function does and applies them with the Region's engine. Writes the engine makes produce
// events in their Region too, as on AWS (they are published there: the engine must skip its
// own replicas).
func (w *chaosWorld) deliver(ctx context.Context, region string) {
	q := w.queues[region]
	for {
		it := q.receive(ctx)
		if it == nil {
			return
		}
		changes, err := events.ParseObjectChanges(it.body)
		if err != nil || len(changes) != 1 {
			w.t.Errorf("chaos event does not parse: %v (%d changes): %s", err, len(changes), it.body)
			q.done(it, fmt.Errorf("parse: %v", err), true)
			continue
		}
		res, err := w.engines[region].Apply(ctx, changes[0])
		if err != nil {
			w.applyErrors.Add(1)
			if replication.IsPermanent(err) {
				w.permanentErrors.Add(1)
				w.mu.Lock()
				if len(w.permanentMsgs) < 5 {
					w.permanentMsgs = append(w.permanentMsgs, err.Error())
				}
				w.mu.Unlock()
			}
		}
		q.done(it, err, replication.IsPermanent(err))
		for _, o := range res.Destinations {
			if o.Status == replication.Replicated {
				w.echo(ctx, o.Region, res.Key, o.Action)
			}
		}
	}
}

// echo publishes the event S3 would emit for a write the engine made in region.
func (w *chaosWorld) echo(ctx context.Context, region, key string, action replication.Action) {
	list, err := w.direct[region].ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(w.bucket(region)), Prefix: aws.String(key), MaxKeys: aws.Int32(50)})
	if err != nil {
		return
	}
	for _, v := range list.Versions {
		if aws.ToString(v.Key) == key && aws.ToBool(v.IsLatest) && action == replication.ActionTags {
			w.echoes.Add(1)
			w.queues[region].publish(tagEnvelope(region, key, aws.ToString(v.VersionId), aws.ToString(v.ETag)))
		}
		if aws.ToString(v.Key) == key && aws.ToBool(v.IsLatest) && action == replication.ActionCopy {
			w.echoes.Add(1)
			w.queues[region].publish(chaosEnvelope(ackWrite{Region: region, Key: key, VersionID: aws.ToString(v.VersionId), LastModified: aws.ToTime(v.LastModified)}, aws.ToInt64(v.Size), aws.ToString(v.ETag)))
		}
	}
	for _, m := range list.DeleteMarkers {
		if aws.ToString(m.Key) == key && aws.ToBool(m.IsLatest) && action == replication.ActionDeleteMarker {
			w.echoes.Add(1)
			w.queues[region].publish(chaosEnvelope(ackWrite{Region: region, Key: key, VersionID: aws.ToString(m.VersionId), LastModified: aws.ToTime(m.LastModified), Deleted: true}, 0, ""))
		}
	}
}

// keyState is what one Region serves for a key: nothing (absent or a delete marker), or an
// object with its bytes, user metadata, content type, tags and origin.
type keyState struct {
	Deleted      bool
	Hash         string
	ContentType  string
	Meta, Tags   string
	OriginRegion string
	OriginVID    string
}

func (s keyState) String() string {
	if s.Deleted {
		return "deleted"
	}
	return fmt.Sprintf("object origin=%s/%s sha256=%.12s type=%s meta=%s tags=%s", s.OriginRegion, s.OriginVID, s.Hash, s.ContentType, s.Meta, s.Tags)
}

func (w ackWrite) state() keyState {
	if w.Deleted {
		return keyState{Deleted: true}
	}
	return keyState{Hash: w.Hash, ContentType: w.ContentType, Meta: renderMap(w.Meta), Tags: renderMap(w.Tags), OriginRegion: w.Region, OriginVID: w.VersionID}
}

func renderMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, strings.ToLower(k)+"="+m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// snapshot reads every key's current state in region, straight from versitygw.
// It also returns, by key, the origins of every delete marker of region that no user wrote:
// the markers the engine wrote.
func (w *chaosWorld) snapshot(ctx context.Context, region string) (map[string]keyState, map[string][]replication.Origin, error) {
	c, bucket := w.direct[region], w.bucket(region)
	out := map[string]keyState{}
	userMarkers := map[string]bool{}
	w.mu.Lock()
	for _, ws := range w.writes {
		for _, aw := range ws {
			if aw.Deleted && aw.Region == region {
				userMarkers[aw.VersionID] = true
			}
		}
	}
	w.mu.Unlock()
	engineMarkers := map[string][]replication.Origin{}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	for {
		list, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("list %s: %w", region, err)
		}
		for _, m := range list.DeleteMarkers {
			if replication.IsInternalKey(aws.ToString(m.Key)) {
				continue // each Region's own objects (delete marker records)
			}
			if key, id := aws.ToString(m.Key), aws.ToString(m.VersionId); !userMarkers[id] {
				engineMarkers[key] = append(engineMarkers[key], replication.DestinationOrigin(region, replication.Version{Exists: true, DeleteMarker: true, VersionID: id, LastModified: aws.ToTime(m.LastModified)}))
			}
			if aws.ToBool(m.IsLatest) {
				out[aws.ToString(m.Key)] = keyState{Deleted: true}
			}
		}
		for _, v := range list.Versions {
			if !aws.ToBool(v.IsLatest) || replication.IsInternalKey(aws.ToString(v.Key)) {
				continue
			}
			key := aws.ToString(v.Key)
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return nil, nil, fmt.Errorf("get %s %q: %w", region, key, err)
			}
			body, err := io.ReadAll(get.Body)
			get.Body.Close()
			if err != nil {
				return nil, nil, err
			}
			tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: get.VersionId})
			if err != nil {
				return nil, nil, fmt.Errorf("tags %s %q: %w", region, key, err)
			}
			tm := map[string]string{}
			for _, tg := range tags.TagSet {
				tm[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			user := map[string]string{}
			for k, val := range get.Metadata {
				if !strings.HasPrefix(strings.ToLower(k), "mrap-origin-") {
					user[k] = val
				}
			}
			o := replication.DestinationOrigin(region, replication.Version{Exists: true, VersionID: aws.ToString(get.VersionId), LastModified: aws.ToTime(get.LastModified), Metadata: get.Metadata})
			sum := sha256.Sum256(body)
			out[key] = keyState{Hash: hex.EncodeToString(sum[:]), ContentType: aws.ToString(get.ContentType), Meta: renderMap(user), Tags: renderMap(tm),
				OriginRegion: o.Region, OriginVID: o.VersionID}
		}
		if !aws.ToBool(list.IsTruncated) {
			return out, engineMarkers, nil
		}
		in.KeyMarker, in.VersionIdMarker = list.NextKeyMarker, list.NextVersionIdMarker
	}
}

// expected returns the write the conflict rule names for key among the acknowledged writes.
func expected(writes []ackWrite) ackWrite {
	best := writes[0]
	for _, w := range writes[1:] {
		if replication.Wins(w.origin(), best.origin()) {
			best = w
		}
	}
	return best
}

// history renders the acknowledged writes of a key, oldest origin first, for failure reports.
func history(writes []ackWrite) string {
	ws := slices.Clone(writes)
	sort.Slice(ws, func(i, j int) bool { return replication.Compare(ws[i].origin(), ws[j].origin()) < 0 })
	var b strings.Builder
	for _, w := range ws {
		kind := "put"
		if w.Deleted {
			kind = "delete"
		}
		fmt.Fprintf(&b, "\n      %-6s %-15s %s lm=%s seq=%s (%s)", kind, w.Region, w.VersionID, w.LastModified.UTC().Format("15:04:05.000"), w.Sequencer, w.Op)
	}
	return b.String()
}

// versionRow is one version or delete marker of a key in one Region.
type versionRow struct {
	VersionID    string
	DeleteMarker bool
	Latest       bool
	Origin       replication.Origin // from the marks (replicas), or the version itself
	User         bool               // an acknowledged user write
}

// versions returns every version of key in region, newest first (versitygw's version ids
// are ULIDs that sort by creation; the clients see them mirrored, see opaqueIDs), with the
// origin each one carries.
func (w *chaosWorld) versions(ctx context.Context, region, key string) ([]versionRow, error) {
	c, bucket := w.direct[region], w.bucket(region)
	user := map[string]bool{}
	w.mu.Lock()
	for _, aw := range w.writes[key] {
		if aw.Region == region {
			user[aw.VersionID] = true
		}
	}
	w.mu.Unlock()
	list, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		return nil, err
	}
	var out []versionRow
	for _, m := range list.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			id := aws.ToString(m.VersionId)
			out = append(out, versionRow{VersionID: id, DeleteMarker: true, Latest: aws.ToBool(m.IsLatest), User: user[id],
				Origin: replication.DestinationOrigin(region, replication.Version{Exists: true, DeleteMarker: true, VersionID: id, LastModified: aws.ToTime(m.LastModified)})})
		}
	}
	for _, v := range list.Versions {
		if aws.ToString(v.Key) != key {
			continue
		}
		id := aws.ToString(v.VersionId)
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(id)})
		if err != nil {
			return nil, err
		}
		out = append(out, versionRow{VersionID: id, Latest: aws.ToBool(v.IsLatest), User: user[id],
			Origin: replication.DestinationOrigin(region, replication.Version{Exists: true, VersionID: id, LastModified: aws.ToTime(h.LastModified), Metadata: h.Metadata})})
	}
	sort.Slice(out, func(i, j int) bool { return mirrorID(out[i].VersionID) > mirrorID(out[j].VersionID) })
	return out, nil
}

// overwrittenByEngine reports the engine write made right on top of the winning write win in
// its own Region, if any: the engine replaced a write that should have won.
func (w *chaosWorld) overwrittenByEngine(ctx context.Context, win ackWrite) (versionRow, bool, error) {
	rows, err := w.versions(ctx, win.Region, win.Key)
	if err != nil {
		return versionRow{}, false, err
	}
	for i, r := range rows {
		if r.VersionID == win.VersionID && i > 0 && !rows[i-1].User {
			return rows[i-1], true, nil
		}
	}
	return versionRow{}, false, nil
}
