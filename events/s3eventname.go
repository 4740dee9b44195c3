package events

import "strings"

// s3EventName is what one classic S3 notification event name means: the change and the
// reason EventBridge gives for it.
type s3EventName struct {
	kind   ChangeKind
	reason string
}

// s3EventNames is the one table from classic S3 notification event names (S3 user guide,
// "Supported event types") to the change and the EventBridge reason.
var s3EventNames = map[string]s3EventName{
	"ObjectCreated:Put":                       {Created, ReasonPutObject},
	"ObjectCreated:Post":                      {Created, ReasonPostObject},
	"ObjectCreated:Copy":                      {Created, ReasonCopyObject},
	"ObjectCreated:CompleteMultipartUpload":   {Created, ReasonCompleteMultipart},
	"ObjectRemoved:Delete":                    {PermanentlyDeleted, ReasonDeleteObject},
	"ObjectRemoved:DeleteMarkerCreated":       {DeleteMarkerCreated, ReasonDeleteObject},
	"LifecycleExpiration:Delete":              {PermanentlyDeleted, ReasonLifecycleExpiration},
	"LifecycleExpiration:DeleteMarkerCreated": {DeleteMarkerCreated, ReasonLifecycleExpiration},
	"ObjectTagging:Put":                       {TagsChanged, ReasonPutObjectTagging},
	"ObjectTagging:Delete":                    {TagsChanged, ReasonDeleteObjectTagging},
}

// S3EventNameChange reads a classic S3 notification event name ("s3:ObjectCreated:Put", the
// "s3:" prefix optional): the kind of change and the reason an EventBridge event gives for
// it. ok is false for a name that is not an object create, delete or tag change
// (s3:TestEvent, replication, restore, ACL ...).
func S3EventNameChange(name string) (kind ChangeKind, reason string, ok bool) {
	m, ok := s3EventNames[strings.TrimPrefix(name, "s3:")]
	return m.kind, m.reason, ok
}
