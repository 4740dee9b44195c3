// Package notifybridge turns the bucket notifications of local S3 servers (versitygw's
// webhook) into the EventBridge "Object Created" / "Object Deleted" / "Object Tags Added" /
// "Object Tags Deleted" envelopes AWS emits, and
// delivers them to a consumer (the replicator) through a bounded queue with retries and a
// dead-letter file.
package notifybridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/local/s3server"
)

// S3API is the part of the S3 client the bridge uses to find the version an event is about
// (versitygw sends no version id for puts and deletes); *s3.Client satisfies it.
type S3API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

// Member is one local Region: its bucket and a client to look versions up.
type Member struct {
	Region string
	Bucket string
	Client S3API
}

// Deliver receives one EventBridge envelope (JSON); an error means "retry later", unless it
// wraps ErrPermanent.
type Deliver func(ctx context.Context, envelope []byte) error

// ErrPermanent marks a delivery error that retrying cannot fix: the event goes to the
// dead-letter file at once.
var ErrPermanent = errors.New("permanent failure")

// Options configure a Bridge.
type Options struct {
	AccountID string
	// QueueSize bounds the events waiting for delivery (default 10000); when full, new events
	// go straight to the dead-letter file.
	QueueSize int
	// Workers deliver in parallel, each the events of its share of the keys (default 8).
	Workers int
	// Attempts per event before it goes to the dead-letter file (default 5).
	Attempts int
	// Backoff is the first retry delay, doubled each attempt (default 200ms).
	Backoff time.Duration
	// DeadLetterPath receives undeliverable envelopes, one JSON line each with the error.
	DeadLetterPath string
	// SkipPrefixes are key prefixes whose notifications are ignored (the prober's canaries).
	SkipPrefixes []string
	Logger       *slog.Logger
}

// Stats are counters for status displays.
type Stats struct {
	Received     int64 // webhook messages accepted
	Delivered    int64
	DeadLettered int64 // events dead-lettered since start (some may have been redriven since)
	// DeadLetters are the events in the dead-letter file now, waiting for a redrive;
	// Redriven counts the events redriven since start.
	DeadLetters int
	Redriven    int64
	Ignored     int64 // notifications that are not object changes (tagging, ACL, test)
	Backlog     int   // queued plus in flight
	// RegionBacklog is Backlog per source Region.
	RegionBacklog map[string]int
	// LastLatency is, per source Region, the time from the webhook message to its delivery.
	LastLatency map[string]time.Duration
}

type job struct {
	region   string
	envelope []byte
	received time.Time
}

// Bridge receives webhooks and delivers envelopes.
type Bridge struct {
	members map[string]Member
	deliver Deliver
	opts    Options
	queues  []chan job // one per worker: events of one key go to one worker, in order
	seqBase string

	received, delivered, deadLettered, ignored, redriven atomic.Int64
	inFlight                                             atomic.Int64
	pending                                              sync.Map // region -> *atomic.Int64, queued plus in flight

	mu      sync.Mutex
	latency map[string]time.Duration
	dlq     sync.Mutex

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New returns a Bridge for members; Start must be called before events flow.
func New(members []Member, deliver Deliver, opts Options, optFns ...func(*Options)) *Bridge {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{
		members: map[string]Member{}, deliver: deliver, opts: opts,
		latency: map[string]time.Duration{},
		// Sequencers restart with versitygw; a start-time prefix keeps them growing across restarts.
		seqBase: fmt.Sprintf("%016X", time.Now().UnixNano()),
	}
	for _, m := range members {
		b.members[m.Region] = m
	}
	for range opts.Workers {
		b.queues = append(b.queues, make(chan job, max(1, opts.QueueSize/opts.Workers)))
	}
	return b
}

// Start runs the delivery workers until Stop.
func (b *Bridge) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	for _, q := range b.queues {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-q:
					b.inFlight.Add(1)
					b.run(ctx, j)
					b.inFlight.Add(-1)
					b.counter(j.region).Add(-1)
				}
			}
		}()
	}
}

// Stop ends the workers; events still queued are written to the dead-letter file so a
// restart can redrive them.
func (b *Bridge) Stop() {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	for _, q := range b.queues {
	drain:
		for {
			select {
			case j := <-q:
				b.counter(j.region).Add(-1)
				b.deadLetter(j, errors.New("runtime stopped before delivery"))
			default:
				break drain
			}
		}
	}
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	lat := make(map[string]time.Duration, len(b.latency))
	for k, v := range b.latency {
		lat[k] = v
	}
	b.mu.Unlock()
	return Stats{
		Received: b.received.Load(), Delivered: b.delivered.Load(),
		DeadLettered: b.deadLettered.Load(), Ignored: b.ignored.Load(), DeadLetters: b.deadLetters(), Redriven: b.redriven.Load(),
		Backlog: b.queued() + int(b.inFlight.Load()), LastLatency: lat, RegionBacklog: b.regionBacklog(),
	}
}

type receivedKey struct{}

// ReceivedAt returns, inside a Deliver call, when the bridge received the notification.
func ReceivedAt(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(receivedKey{}).(time.Time)
	return t, ok
}

func (b *Bridge) run(ctx context.Context, j job) {
	ctx = context.WithValue(ctx, receivedKey{}, j.received)
	delay := b.opts.Backoff
	var err error
	for attempt := 1; attempt <= b.opts.Attempts; attempt++ {
		if err = b.deliver(ctx, j.envelope); err == nil {
			b.delivered.Add(1)
			b.mu.Lock()
			b.latency[j.region] = time.Since(j.received)
			b.mu.Unlock()
			return
		}
		if attempt == b.opts.Attempts || errors.Is(err, ErrPermanent) {
			break
		}
		select {
		case <-ctx.Done():
			b.deadLetter(j, fmt.Errorf("stopped while retrying: %w", err))
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
	b.opts.Logger.Warn("replication event dead-lettered", "region", j.region, "err", err)
	b.deadLetter(j, err)
}

func (b *Bridge) deadLetter(j job, cause error) {
	b.deadLettered.Add(1)
	if b.opts.DeadLetterPath == "" {
		return
	}
	line, _ := json.Marshal(struct {
		Time     time.Time       `json:"time"`
		Error    string          `json:"error"`
		Envelope json.RawMessage `json:"envelope"`
	}{time.Now().UTC(), cause.Error(), j.envelope})
	b.dlq.Lock()
	defer b.dlq.Unlock()
	f, err := os.OpenFile(b.opts.DeadLetterPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.opts.Logger.Error("dead-letter file", "err", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

// deadLetters counts the lines of the dead-letter file.
func (b *Bridge) deadLetters() int {
	if b.opts.DeadLetterPath == "" {
		return 0
	}
	b.dlq.Lock()
	data, err := os.ReadFile(b.opts.DeadLetterPath)
	b.dlq.Unlock()
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte{'\n'})
}

// Redrive re-queues every envelope of the dead-letter file and empties it; it returns how
// many were queued.
func (b *Bridge) Redrive() (int, error) {
	b.dlq.Lock()
	data, err := os.ReadFile(b.opts.DeadLetterPath)
	if err == nil {
		err = os.Remove(b.opts.DeadLetterPath)
	}
	b.dlq.Unlock()
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redrive: %w", err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			Envelope json.RawMessage `json:"envelope"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || len(line.Envelope) == 0 {
			continue
		}
		var ev events.S3ObjectEvent
		_ = json.Unmarshal(line.Envelope, &ev)
		b.enqueue(job{region: ev.Region, envelope: line.Envelope, received: time.Now()})
		n++
	}
	b.redriven.Add(int64(n))
	return n, nil
}

func (b *Bridge) counter(region string) *atomic.Int64 {
	c, _ := b.pending.LoadOrStore(region, new(atomic.Int64))
	return c.(*atomic.Int64)
}

func (b *Bridge) regionBacklog() map[string]int {
	out := map[string]int{}
	b.pending.Range(func(k, v any) bool {
		out[k.(string)] = int(v.(*atomic.Int64).Load())
		return true
	})
	return out
}

func (b *Bridge) queued() int {
	n := 0
	for _, q := range b.queues {
		n += len(q)
	}
	return n
}

// shard picks the worker of an envelope by its object key, so the events of one key (from
// every Region) are delivered one after the other: concurrent copies of one key into the
// same destination could otherwise land in the wrong order.
func (b *Bridge) shard(envelope []byte) chan job {
	var ev struct {
		Detail struct {
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(envelope, &ev)
	h := fnv.New32a()
	_, _ = h.Write([]byte(ev.Detail.Object.Key))
	return b.queues[h.Sum32()%uint32(len(b.queues))]
}

func (b *Bridge) enqueue(j job) {
	c := b.counter(j.region)
	c.Add(1)
	select {
	case b.shard(j.envelope) <- j:
	default:
		c.Add(-1)
		b.deadLetter(j, errors.New("replication queue full"))
	}
}

// ServeHTTP receives versitygw webhook POSTs. It answers at once; envelopes are built and
// queued in the background of the request (the version lookup needs the server).
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	received := time.Now()
	var msg s3server.Notification
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "not a bucket notification: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	if msg.Event == "s3:TestEvent" || len(msg.Records) == 0 {
		return
	}
	b.received.Add(1)
	for i := range msg.Records {
		env, region, err := b.envelope(r.Context(), msg, i)
		switch {
		case errors.Is(err, events.ErrNotObjectChange):
			b.ignored.Add(1)
			continue
		case err != nil:
			b.opts.Logger.Warn("bucket notification not bridged", "err", err)
			b.deadLetter(job{region: region, envelope: mustJSON(msg), received: received}, err)
			continue
		}
		b.enqueue(job{region: region, envelope: env, received: received})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// envelope builds the EventBridge envelope of record i.
func (b *Bridge) envelope(ctx context.Context, msg s3server.Notification, i int) ([]byte, string, error) {
	rec := msg.Records[i]
	region := rec.AWSRegion
	m, ok := b.members[region]
	if !ok {
		return nil, region, fmt.Errorf("notification from unknown Region %q", region)
	}
	obj := rec.S3.Object
	if rec.S3.Bucket.Name != m.Bucket {
		return nil, region, fmt.Errorf("notification for bucket %q, which is not the member bucket %q of %s", rec.S3.Bucket.Name, m.Bucket, region)
	}
	if obj.Key == "" {
		return nil, region, fmt.Errorf("notification %s in %s names no object key", rec.EventName, region)
	}
	for _, p := range b.opts.SkipPrefixes {
		if strings.HasPrefix(obj.Key, p) {
			return nil, region, fmt.Errorf("key %q under skipped prefix %q: %w", obj.Key, p, events.ErrNotObjectChange)
		}
	}
	d := events.S3ObjectDetail{
		Version:         "0",
		Bucket:          events.S3DetailBucket{Name: rec.S3.Bucket.Name},
		Object:          events.S3DetailObject{Key: encodeKey(obj.Key), Sequencer: b.seqBase + fmt.Sprintf("%016s", obj.Sequencer)},
		RequestID:       rec.ResponseElements["x-amz-request-id"],
		Requester:       b.opts.AccountID,
		SourceIPAddress: rec.RequestParameters.SourceIPAddress,
	}
	if obj.VersionID != nil {
		d.Object.VersionID = *obj.VersionID
	}
	var detailType string
	name := rec.EventName
	if name == "s3:ObjectRemoved:DeleteObjects" { // versitygw's name for one delete of a DeleteObjects batch
		name = "s3:ObjectRemoved:Delete"
	}
	kind, reason, known := events.S3EventNameChange(name)
	switch {
	case known && kind == events.Created:
		detailType = events.DetailTypeObjectCreated
		d.Reason = reason
		head, err := m.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(obj.Key), VersionId: nilIfEmpty(d.Object.VersionID)})
		if isNotFound(err) {
			// Deleted or overwritten before we looked: the later change has its own event.
			return nil, region, fmt.Errorf("%s/%q is gone: %w", m.Bucket, obj.Key, events.ErrNotObjectChange)
		}
		if err != nil {
			return nil, region, fmt.Errorf("look up version of %s/%q: %w", m.Bucket, obj.Key, err)
		}
		d.Object.VersionID = aws.ToString(head.VersionId)
		d.Object.Size = aws.ToInt64(head.ContentLength)
		d.Object.ETag = strings.Trim(aws.ToString(head.ETag), `"`)
	case known && kind == events.TagsChanged:
		// versitygw v1.8.0 sends these from its webhook without a version id, even for a
		// request with ?versionId=: the tags are taken to be the current version's. AWS sends
		// no sequencer or size with tag events; neither does the envelope.
		detailType = events.DetailTypeObjectTagsAdded
		if reason == events.ReasonDeleteObjectTagging {
			detailType = events.DetailTypeObjectTagsDeleted
		}
		d.Object.Sequencer = ""
		head, err := m.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(obj.Key), VersionId: nilIfEmpty(d.Object.VersionID)})
		if isNotFound(err) {
			return nil, region, fmt.Errorf("%s/%q is gone: %w", m.Bucket, obj.Key, events.ErrNotObjectChange)
		}
		if err != nil {
			return nil, region, fmt.Errorf("look up version of %s/%q: %w", m.Bucket, obj.Key, err)
		}
		d.Object.VersionID = aws.ToString(head.VersionId)
		d.Object.ETag = strings.Trim(aws.ToString(head.ETag), `"`)
	case known && name == "s3:ObjectRemoved:Delete": // marker or permanent: the version id and the bucket tell
		detailType = events.DetailTypeObjectDeleted
		d.Reason = reason
		if d.Object.VersionID != "" {
			d.DeletionType = events.DeletionTypePermanent
			break
		}
		marker, err := currentDeleteMarker(ctx, m, obj.Key)
		if err != nil {
			return nil, region, err
		}
		if marker == "" {
			// A version was deleted for good, but versitygw does not say which one.
			return nil, region, fmt.Errorf("permanent delete of %s/%q without version id: %w", m.Bucket, obj.Key, events.ErrNotObjectChange)
		}
		d.DeletionType = events.DeletionTypeMarker
		d.Object.VersionID = marker
	default:
		return nil, region, fmt.Errorf("%s: %w", rec.EventName, events.ErrNotObjectChange)
	}
	t, err := time.Parse(time.RFC3339, rec.EventTime)
	if err != nil {
		t = time.Now()
	}
	env := events.S3ObjectEvent{
		Envelope: events.Envelope{
			Version: "0", ID: newID(), DetailType: detailType, Source: events.S3EventSource,
			AccountID: b.opts.AccountID, Time: t.UTC(), Region: region,
			Resources: []string{"arn:aws:s3:::" + rec.S3.Bucket.Name},
		},
		Detail: d,
	}
	out, err := json.Marshal(env)
	return out, region, err
}

// currentDeleteMarker returns the version id of key's current version when it is a delete
// marker, "" otherwise.
func currentDeleteMarker(ctx context.Context, m Member, key string) (string, error) {
	out, err := m.Client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(m.Bucket), Prefix: aws.String(key)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey" {
			return "", nil
		}
		return "", fmt.Errorf("list versions of %s/%q: %w", m.Bucket, key, err)
	}
	for _, dm := range out.DeleteMarkers {
		if aws.ToString(dm.Key) == key && aws.ToBool(dm.IsLatest) {
			return aws.ToString(dm.VersionId), nil
		}
	}
	return "", nil
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NoSuchVersion")
}

// encodeKey form-URL-encodes a key the way S3 notifications carry it ("a b+c" as "a+b%2Bc"),
// keeping '/' readable; the replicator decodes it with events.DecodeKey.
func encodeKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
