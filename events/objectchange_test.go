package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestParseObjectChanges(t *testing.T) {
	created := ObjectChange{
		Region: "ca-central-1", Bucket: "amzn-s3-demo-bucket1", Key: "example-key", RawKey: "example-key",
		VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", Sequencer: "617f08299329d189", Size: 5,
		ETag: "b1946ac92492d2347c6235b4d2611184", Kind: Created, Reason: ReasonPutObject,
		EventTime: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC),
	}
	classicPut := ObjectChange{
		Region: "us-west-2", Bucket: "mrap-data-us-west-2", Key: "photos/red flower +1 % 10:47.jpg",
		RawKey: "photos/red+flower+%2B1+%25+10%3A47.jpg", VersionID: "096fKKXTRTtl3on89fVO.nfljtsv6qko",
		Sequencer: "0055AED6DCD90281E5", Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e",
		Kind: Created, Reason: ReasonPutObject, EventTime: time.Date(2024, 3, 5, 12, 30, 1, 123e6, time.UTC),
	}
	classicMarker := ObjectChange{
		Region: "us-west-2", Bucket: "mrap-data-us-west-2", Key: "café/日本.txt",
		RawKey: "caf%C3%A9/%E6%97%A5%E6%9C%AC.txt", VersionID: "Gx8GyZSe0rJ9HJbDFKdpqnrtUXKM6Vd2",
		Sequencer: "0055AED6DCD90281F0", Kind: DeleteMarkerCreated, Reason: ReasonDeleteObject,
		EventTime: time.Date(2024, 3, 5, 12, 30, 2, 456e6, time.UTC),
	}
	tests := []struct {
		name    string
		fixture string
		want    []ObjectChange
	}{
		{name: "EventBridge Object Created", fixture: "s3-object-created.json", want: []ObjectChange{created}},
		{name: "EventBridge delete marker", fixture: "s3-object-deleted-marker.json", want: []ObjectChange{{
			Region: "ca-central-1", Bucket: "amzn-s3-demo-bucket1", Key: "example-key", RawKey: "example-key",
			VersionID: "1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF", Sequencer: "617f0837b476e463", Kind: DeleteMarkerCreated,
			Reason: ReasonDeleteObject, EventTime: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC),
		}}},
		{name: "EventBridge permanent delete", fixture: "s3-object-deleted-permanent.json", want: []ObjectChange{{
			Region: "ca-central-1", Bucket: "amzn-s3-demo-bucket1", Key: "example-key", RawKey: "example-key",
			VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", Sequencer: "617f0838c1d2e3f4", Kind: PermanentlyDeleted,
			Reason: ReasonDeleteObject, EventTime: time.Date(2021, 11, 12, 0, 0, 5, 0, time.UTC),
		}}},
		{name: "EventBridge lifecycle expiration", fixture: "s3-object-deleted-lifecycle.json", want: []ObjectChange{{
			Region: "ca-central-1", Bucket: "amzn-s3-demo-bucket1", Key: "example-key", RawKey: "example-key",
			VersionID: "mtB0cV.jejK63XkRNceanNMC.qXPWLeK", Sequencer: "617b398000000000", Kind: PermanentlyDeleted,
			Reason: ReasonLifecycleExpiration, EventTime: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC),
		}}},
		{name: "EventBridge Object Tags Added: no size, sequencer or reason", fixture: "s3-object-tags-added.json", want: []ObjectChange{{
			Region: "ca-central-1", Bucket: "amzn-s3-demo-bucket1", Key: "example-key", RawKey: "example-key",
			VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", ETag: "d41d8cd98f00b204e9800998ecf8427e", Kind: TagsChanged,
			Reason: ReasonPutObjectTagging, EventTime: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC),
		}}},
		{name: "EventBridge Object Tags Deleted", fixture: "s3-object-tags-deleted.json", want: []ObjectChange{{
			Region: "ca-central-1", Bucket: "amzn-s3-demo-bucket1", Key: "example-key", RawKey: "example-key",
			VersionID: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", ETag: "d41d8cd98f00b204e9800998ecf8427e", Kind: TagsChanged,
			Reason: ReasonDeleteObjectTagging, EventTime: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC),
		}}},
		{name: "classic ObjectTagging:Put and :Delete", fixture: "s3-event-notification-tagging.json", want: []ObjectChange{
			{Region: "us-west-2", Bucket: "mrap-data-us-west-2", Key: "photos/red flower.jpg", RawKey: "photos/red+flower.jpg",
				VersionID: "096fKKXTRTtl3on89fVO.nfljtsv6qko", ETag: "d41d8cd98f00b204e9800998ecf8427e", Kind: TagsChanged,
				Reason: ReasonPutObjectTagging, EventTime: time.Date(2024, 3, 5, 12, 31, 0, 789e6, time.UTC)},
			{Region: "us-west-2", Bucket: "mrap-data-us-west-2", Key: "photos/red flower.jpg", RawKey: "photos/red+flower.jpg",
				VersionID: "096fKKXTRTtl3on89fVO.nfljtsv6qko", ETag: "d41d8cd98f00b204e9800998ecf8427e", Kind: TagsChanged,
				Reason: ReasonDeleteObjectTagging, EventTime: time.Date(2024, 3, 5, 12, 31, 1, 12e6, time.UTC)},
		}},
		{name: "classic S3 notification decodes keys", fixture: "s3-event-notification.json", want: []ObjectChange{classicPut, classicMarker}},
		{name: "SNS notification wrapping an S3 notification", fixture: "sns-s3-notification.json", want: []ObjectChange{classicPut, classicMarker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseObjectChanges(readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d changes, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if !got[i].EventTime.Equal(tt.want[i].EventTime) {
					t.Errorf("change %d time = %v, want %v", i, got[i].EventTime, tt.want[i].EventTime)
				}
				got[i].EventTime, tt.want[i].EventTime = time.Time{}, time.Time{}
				if got[i] != tt.want[i] {
					t.Errorf("change %d\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseObjectChangesFromSQSBodies(t *testing.T) {
	var sqs events.SQSEvent
	if err := json.Unmarshal(readFixture(t, "sqs-object-events.json"), &sqs); err != nil {
		t.Fatal(err)
	}
	wantCounts := []int{1, 2, -1} // -1: the third body is truncated JSON
	for i, rec := range sqs.Records {
		got, err := ParseObjectChanges([]byte(rec.Body))
		if wantCounts[i] < 0 {
			if err == nil {
				t.Errorf("record %d: got %d changes, want an error", i, len(got))
			}
			continue
		}
		if err != nil || len(got) != wantCounts[i] {
			t.Errorf("record %d: got %d changes, err %v; want %d", i, len(got), err, wantCounts[i])
		}
	}
}

func TestParseObjectChangesSNSEventRecords(t *testing.T) {
	msg := string(readFixture(t, "s3-object-created.json"))
	body, _ := json.Marshal(events.SNSEvent{Records: []events.SNSEventRecord{{EventSource: "aws:sns", SNS: events.SNSEntity{Type: "Notification", Message: msg}}}})
	got, err := ParseObjectChanges(body)
	if err != nil || len(got) != 1 || got[0].Key != "example-key" {
		t.Fatalf("got %+v, %v; want one change for example-key", got, err)
	}
}

func TestParseObjectChangesRejects(t *testing.T) {
	eb := func(mutate func(*S3ObjectEvent)) string {
		var ev S3ObjectEvent
		_ = json.Unmarshal([]byte(`{"version":"0","detail-type":"Object Created","source":"aws.s3","region":"eu-west-1","time":"2024-01-01T00:00:00Z","detail":{"bucket":{"name":"b"},"object":{"key":"k","version-id":"v1"}}}`), &ev)
		mutate(&ev)
		b, _ := json.Marshal(ev)
		return string(b)
	}
	tests := []struct {
		name        string
		body        string
		wantErr     string
		notAnObject bool
	}{
		{name: "not JSON", body: "hello", wantErr: "not a JSON object"},
		{name: "JSON array", body: "[1,2]", wantErr: "not a JSON object"},
		{name: "unrelated JSON", body: `{"foo":"bar"}`, wantErr: "not an EventBridge S3 event"},
		{name: "s3 test event", body: string(readFixture(t, "s3-test-event.json")), wantErr: "s3:TestEvent", notAnObject: true},
		{name: "empty records", body: `{"Records":[]}`, wantErr: "empty Records", notAnObject: true},
		{name: "other detail-type", body: eb(func(e *S3ObjectEvent) { e.DetailType = "Object Restore Completed" }), wantErr: "detail-type", notAnObject: true},
		{name: "other source", body: eb(func(e *S3ObjectEvent) { e.Source = "aws.ec2" }), wantErr: "source"},
		{name: "unknown deletion type", body: eb(func(e *S3ObjectEvent) { e.DetailType = DetailTypeObjectDeleted; e.Detail.DeletionType = "Evaporated" }), wantErr: "deletion-type"},
		{name: "delete without version id", body: eb(func(e *S3ObjectEvent) {
			e.DetailType, e.Detail.DeletionType, e.Detail.Object.VersionID = DetailTypeObjectDeleted, DeletionTypeMarker, ""
		}), wantErr: "lacks version id"},
		{name: "missing key and bucket", body: eb(func(e *S3ObjectEvent) { e.Detail.Object.Key, e.Detail.Bucket.Name = "", "" }), wantErr: "lacks bucket, key"},
		{name: "missing region", body: eb(func(e *S3ObjectEvent) { e.Region = "" }), wantErr: "lacks region"},
		{name: "invalid key escape in a classic notification", body: `{"Records":[{"eventName":"ObjectCreated:Put","awsRegion":"us-west-2","s3":{"bucket":{"name":"b"},"object":{"key":"50%","versionId":"v"}}}]}`, wantErr: "invalid URL escape"},
		{name: "classic tag change without version id", body: `{"Records":[{"eventName":"ObjectTagging:Put","awsRegion":"us-west-2","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`, wantErr: "lacks version id"},
		{name: "EventBridge tag change without version id", body: eb(func(e *S3ObjectEvent) { e.DetailType, e.Detail.Object.VersionID = DetailTypeObjectTagsAdded, "" }), wantErr: "lacks version id"},
		{name: "classic ACL change", body: `{"Records":[{"eventName":"ObjectAcl:Put","awsRegion":"us-west-2","s3":{"bucket":{"name":"b"},"object":{"key":"k","versionId":"v"}}}]}`, wantErr: "ObjectAcl:Put", notAnObject: true},
		{name: "key longer than S3 allows", body: eb(func(e *S3ObjectEvent) { e.Detail.Object.Key = strings.Repeat("k", MaxKeyBytes+1) }), wantErr: "S3 keys are at most 1024"},
		{name: "SNS wrapping garbage", body: `{"Type":"Notification","Message":"nope"}`, wantErr: "sns message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseObjectChanges([]byte(tt.body))
			if err == nil {
				t.Fatalf("got %+v, want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrNotObjectChange); got != tt.notAnObject {
				t.Errorf("errors.Is(err, ErrNotObjectChange) = %v, want %v", got, tt.notAnObject)
			}
		})
	}
}

func TestEventBridgeKeyThatIsNotFormEncodedIsKeptRaw(t *testing.T) {
	body := strings.Replace(string(readFixture(t, "s3-object-created.json")), `"key": "example-key"`, `"key": "100% done.txt"`, 1)
	got, err := ParseObjectChanges([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Key != "100% done.txt" || got[0].RawKey != "100% done.txt" {
		t.Errorf("key %q raw %q, want the key kept as sent", got[0].Key, got[0].RawKey)
	}
}
