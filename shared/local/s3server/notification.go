package s3server

// Notification is the JSON document versitygw POSTs to Options.WebhookURL (see the package
// documentation for its quirks): the start-up test message sets Event, every other message
// has exactly one record.
type Notification struct {
	Event   string               `json:"Event"`
	Records []NotificationRecord `json:"Records"`
}

// NotificationRecord is one record of a Notification, in the classic S3 notification shape.
type NotificationRecord struct {
	EventSource string `json:"eventSource"`
	AWSRegion   string `json:"awsRegion"`
	EventTime   string `json:"eventTime"` // RFC 3339, whole seconds
	EventName   string `json:"eventName"`
	UserID      struct {
		PrincipalID string `json:"PrincipalId"`
	} `json:"userIdentity"`
	RequestParameters struct {
		SourceIPAddress string `json:"sourceIPAddress"`
	} `json:"requestParameters"`
	ResponseElements map[string]string `json:"responseElements"`
	S3               struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string  `json:"key"`
			Size      int64   `json:"size"`
			ETag      *string `json:"eTag"`
			VersionID *string `json:"versionId"`
			Sequencer string  `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}
