package events

// EventBridge detail-types and values of the S3 object events the replicator consumes.
const (
	S3EventSource           = "aws.s3"
	DetailTypeObjectCreated = "Object Created"
	DetailTypeObjectDeleted = "Object Deleted"
	// DetailTypeObjectTagsAdded and DetailTypeObjectTagsDeleted are sent for PutObjectTagging
	// and DeleteObjectTagging: the detail names the version (version-id, etag) but carries no
	// size, sequencer or reason.
	DetailTypeObjectTagsAdded   = "Object Tags Added"
	DetailTypeObjectTagsDeleted = "Object Tags Deleted"
	DeletionTypeMarker          = "Delete Marker Created"
	DeletionTypePermanent       = "Permanently Deleted"
	ReasonPutObject             = "PutObject"
	ReasonPostObject            = "POST Object"
	ReasonCopyObject            = "CopyObject"
	ReasonCompleteMultipart     = "CompleteMultipartUpload"
	ReasonDeleteObject          = "DeleteObject"
	ReasonLifecycleExpiration   = "Lifecycle Expiration"
	// ReasonPutObjectTagging and ReasonDeleteObjectTagging are the Reason of a TagsChanged
	// change (S3 sends none; the engine names the operation from the event type).
	ReasonPutObjectTagging    = "PutObjectTagging"
	ReasonDeleteObjectTagging = "DeleteObjectTagging"
)

// S3ObjectEvent is the EventBridge envelope of the S3 events "Object Created",
// "Object Deleted", "Object Tags Added" and "Object Tags Deleted" (S3 user guide,
// "EventBridge event message structure").
type S3ObjectEvent struct {
	Envelope
	Detail S3ObjectDetail `json:"detail"`
}

// S3ObjectDetail is the detail of an S3 object event. Deletes carry no size or etag.
type S3ObjectDetail struct {
	Version         string         `json:"version"`
	EventVersion    string         `json:"event-version,omitempty"`
	Bucket          S3DetailBucket `json:"bucket"`
	Object          S3DetailObject `json:"object"`
	RequestID       string         `json:"request-id"`
	Requester       string         `json:"requester"`
	SourceIPAddress string         `json:"source-ip-address,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	DeletionType    string         `json:"deletion-type,omitempty"`
}

// S3DetailBucket names the bucket of an S3 object event.
type S3DetailBucket struct {
	Name string `json:"name"`
}

// S3DetailObject is the object of an S3 object event. Key is as S3 sent it (see DecodeKey).
type S3DetailObject struct {
	Key       string `json:"key"`
	Size      int64  `json:"size,omitempty"`
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version-id,omitempty"`
	Sequencer string `json:"sequencer,omitempty"`
}
