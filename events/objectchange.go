package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// ChangeKind says what happened to an object version.
type ChangeKind string

// The kinds of object change the replicator acts on.
const (
	// Created: a new version was written (put, post, copy, multipart upload).
	Created ChangeKind = "Created"
	// DeleteMarkerCreated: a delete without version id made a delete marker the current version.
	DeleteMarkerCreated ChangeKind = "DeleteMarkerCreated"
	// PermanentlyDeleted: one version was removed for good (delete with version id, lifecycle).
	PermanentlyDeleted ChangeKind = "PermanentlyDeleted"
	// TagsChanged: the tag set of one existing version was replaced or deleted
	// (PutObjectTagging, DeleteObjectTagging); no new version was written.
	TagsChanged ChangeKind = "TagsChanged"
)

// ErrNotObjectChange is returned (wrapped) for a well-formed message that carries no object
// change, such as the s3:TestEvent S3 sends when notifications are configured.
var ErrNotObjectChange = errors.New("message carries no object change")

// ObjectChange is one object event normalised from any of the shapes S3 delivers.
type ObjectChange struct {
	Region    string     // Region of the bucket the change happened in
	Bucket    string     // bucket name
	Key       string     // decoded key (DecodeKey of RawKey)
	RawKey    string     // key exactly as the event carried it
	VersionID string     // version created or deleted (the delete marker's own id for DeleteMarkerCreated)
	Sequencer string     // S3 event sequencer (orders events of one key in one bucket)
	Size      int64      // bytes, zero for deletes
	ETag      string     // entity tag, empty for deletes
	Kind      ChangeKind // Created, DeleteMarkerCreated, PermanentlyDeleted or TagsChanged
	Reason    string     // PutObject, POST Object, CopyObject, CompleteMultipartUpload, DeleteObject, Lifecycle Expiration, PutObjectTagging, DeleteObjectTagging
	EventTime time.Time  // when S3 says the change happened
}

// MaxKeyBytes is the longest object key S3 accepts (UTF-8 bytes).
const MaxKeyBytes = 1024

// IsLifecycle reports whether the change was made by an S3 Lifecycle rule.
func (c ObjectChange) IsLifecycle() bool {
	return c.Reason == ReasonLifecycleExpiration
}

// Validate reports a change that cannot be acted on.
func (c ObjectChange) Validate() error {
	var missing []string
	if c.Region == "" {
		missing = append(missing, "region")
	}
	if c.Bucket == "" {
		missing = append(missing, "bucket")
	}
	if c.RawKey == "" {
		missing = append(missing, "key")
	}
	if c.VersionID == "" && c.Kind != Created {
		missing = append(missing, "version id")
	}
	switch c.Kind {
	case Created, DeleteMarkerCreated, PermanentlyDeleted, TagsChanged:
	default:
		return fmt.Errorf("object change for %q has unknown kind %q", c.RawKey, c.Kind)
	}
	if len(missing) > 0 {
		return fmt.Errorf("object change %s %s/%q lacks %s", c.Kind, c.Bucket, c.RawKey, strings.Join(missing, ", "))
	}
	if len(c.Key) > MaxKeyBytes {
		return fmt.Errorf("object change %s %s: key is %d bytes, S3 keys are at most %d", c.Kind, c.Bucket, len(c.Key), MaxKeyBytes)
	}
	return nil
}

// envelopeProbe holds the fields that tell the accepted message shapes apart.
type envelopeProbe struct {
	DetailType string            `json:"detail-type"`
	Source     string            `json:"source"`
	Detail     json.RawMessage   `json:"detail"`
	Records    []json.RawMessage `json:"Records"`
	Type       string            `json:"Type"`
	Message    *string           `json:"Message"`
	Event      string            `json:"Event"`
}

// ParseObjectChanges normalises one message into object changes. It accepts an EventBridge
// S3 envelope ("Object Created", "Object Deleted", "Object Tags Added", "Object Tags
// Deleted"), a classic S3 notification (S3Event with
// Records, as S3 sends to SQS, SNS and Lambda), an SNS notification wrapping either (raw
// message delivery off), and an SNS event (Records[].Sns) wrapping either. Anything else,
// including s3:TestEvent, is a clear error; no message yields a partial result.
func ParseObjectChanges(body []byte) ([]ObjectChange, error) {
	return parse(body, 0)
}

func parse(body []byte, depth int) ([]ObjectChange, error) {
	if depth > 2 {
		return nil, errors.New("parse object event: messages nested too deeply")
	}
	var p envelopeProbe
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("parse object event: not a JSON object: %w", err)
	}
	switch {
	case p.DetailType != "" || p.Detail != nil:
		return parseEventBridge(body)
	case p.Event == "s3:TestEvent":
		return nil, fmt.Errorf("parse object event: s3:TestEvent: %w", ErrNotObjectChange)
	case p.Records != nil:
		if len(p.Records) == 0 {
			return nil, fmt.Errorf("parse object event: empty Records: %w", ErrNotObjectChange)
		}
		if isSNSRecords(p.Records[0]) {
			return parseSNSEvent(body, depth)
		}
		return parseS3Event(body)
	case p.Message != nil && (p.Type == "Notification" || p.Type == ""):
		out, err := parse([]byte(*p.Message), depth+1)
		if err != nil {
			return nil, fmt.Errorf("sns message: %w", err)
		}
		return out, nil
	}
	return nil, errors.New("parse object event: not an EventBridge S3 event, S3 notification or SNS notification")
}

func isSNSRecords(rec json.RawMessage) bool {
	var r struct {
		EventSource string          `json:"EventSource"`
		Sns         json.RawMessage `json:"Sns"`
	}
	_ = json.Unmarshal(rec, &r)
	return r.Sns != nil
}

func parseSNSEvent(body []byte, depth int) ([]ObjectChange, error) {
	var ev events.SNSEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("parse SNS event: %w", err)
	}
	var out []ObjectChange
	for i, r := range ev.Records {
		cs, err := parse([]byte(r.SNS.Message), depth+1)
		if err != nil {
			return nil, fmt.Errorf("sns record %d: %w", i, err)
		}
		out = append(out, cs...)
	}
	return out, nil
}

func parseEventBridge(body []byte) ([]ObjectChange, error) {
	var ev S3ObjectEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("parse EventBridge S3 event: %w", err)
	}
	c, err := ev.ObjectChange()
	if err != nil {
		return nil, err
	}
	return []ObjectChange{c}, nil
}

// ObjectChange normalises the event, decoding its key once.
func (ev S3ObjectEvent) ObjectChange() (ObjectChange, error) {
	if ev.Source != "" && ev.Source != S3EventSource {
		return ObjectChange{}, fmt.Errorf("parse EventBridge S3 event: source %q, want %q", ev.Source, S3EventSource)
	}
	c := ObjectChange{
		Region:    ev.Region,
		Bucket:    ev.Detail.Bucket.Name,
		RawKey:    ev.Detail.Object.Key,
		VersionID: ev.Detail.Object.VersionID,
		Sequencer: ev.Detail.Object.Sequencer,
		Size:      ev.Detail.Object.Size,
		ETag:      ev.Detail.Object.ETag,
		Reason:    ev.Detail.Reason,
		EventTime: ev.Time,
	}
	switch ev.DetailType {
	case DetailTypeObjectCreated:
		c.Kind = Created
	case DetailTypeObjectTagsAdded:
		c.Kind, c.Reason = TagsChanged, ReasonPutObjectTagging
	case DetailTypeObjectTagsDeleted:
		c.Kind, c.Reason = TagsChanged, ReasonDeleteObjectTagging
	case DetailTypeObjectDeleted:
		switch ev.Detail.DeletionType {
		case DeletionTypeMarker:
			c.Kind = DeleteMarkerCreated
		case DeletionTypePermanent:
			c.Kind = PermanentlyDeleted
		default:
			return ObjectChange{}, fmt.Errorf("parse EventBridge S3 event: unknown deletion-type %q", ev.Detail.DeletionType)
		}
	default:
		return ObjectChange{}, fmt.Errorf("parse EventBridge S3 event: detail-type %q is not %q, %q, %q or %q: %w",
			ev.DetailType, DetailTypeObjectCreated, DetailTypeObjectDeleted, DetailTypeObjectTagsAdded, DetailTypeObjectTagsDeleted, ErrNotObjectChange)
	}
	// EventBridge's key encoding is undocumented (AWS's examples only show plain keys): a key
	// that is not valid form-URL encoding was sent as is, so it is kept raw; the replicator
	// verifies the key against the version id before copying.
	if _, err := DecodeKey(c.RawKey); err != nil {
		c.Key = c.RawKey
		if err := c.Validate(); err != nil {
			return ObjectChange{}, err
		}
		return c, nil
	}
	return finish(c)
}

func parseS3Event(body []byte) ([]ObjectChange, error) {
	var ev events.S3Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("parse S3 notification: %w", err)
	}
	out := make([]ObjectChange, 0, len(ev.Records))
	for i, r := range ev.Records {
		c, err := S3RecordChange(r)
		if err != nil {
			return nil, fmt.Errorf("S3 notification record %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// S3RecordChange normalises one classic S3 notification record, decoding its key once.
func S3RecordChange(r events.S3EventRecord) (ObjectChange, error) {
	kind, reason, ok := S3EventNameChange(r.EventName)
	if !ok {
		return ObjectChange{}, fmt.Errorf("event %q is not an object create, delete or tag change: %w", r.EventName, ErrNotObjectChange)
	}
	c := ObjectChange{
		Kind:      kind,
		Reason:    reason,
		Region:    r.AWSRegion,
		Bucket:    r.S3.Bucket.Name,
		RawKey:    r.S3.Object.Key,
		VersionID: r.S3.Object.VersionID,
		Sequencer: r.S3.Object.Sequencer,
		Size:      r.S3.Object.Size,
		ETag:      r.S3.Object.ETag,
		EventTime: r.EventTime,
	}
	return finish(c)
}

func finish(c ObjectChange) (ObjectChange, error) {
	key, err := DecodeKey(c.RawKey)
	if err != nil {
		return ObjectChange{}, err
	}
	c.Key = key
	if err := c.Validate(); err != nil {
		return ObjectChange{}, err
	}
	return c, nil
}
