package events

import "testing"

func TestS3EventNameChange(t *testing.T) {
	tests := []struct {
		name       string
		wantKind   ChangeKind
		wantReason string
		wantOK     bool
	}{
		{"s3:ObjectCreated:Put", Created, ReasonPutObject, true},
		{"ObjectCreated:Put", Created, ReasonPutObject, true},
		{"s3:ObjectCreated:Post", Created, ReasonPostObject, true},
		{"s3:ObjectCreated:Copy", Created, ReasonCopyObject, true},
		{"s3:ObjectCreated:CompleteMultipartUpload", Created, ReasonCompleteMultipart, true},
		{"s3:ObjectRemoved:Delete", PermanentlyDeleted, ReasonDeleteObject, true},
		{"s3:ObjectRemoved:DeleteMarkerCreated", DeleteMarkerCreated, ReasonDeleteObject, true},
		{"s3:LifecycleExpiration:Delete", PermanentlyDeleted, ReasonLifecycleExpiration, true},
		{"s3:LifecycleExpiration:DeleteMarkerCreated", DeleteMarkerCreated, ReasonLifecycleExpiration, true},
		{"s3:TestEvent", "", "", false},
		{"s3:ObjectCreated:*", "", "", false},
		{"s3:ObjectRestore:Completed", "", "", false},
		{"s3:ObjectTagging:Put", TagsChanged, ReasonPutObjectTagging, true},
		{"s3:ObjectTagging:Delete", TagsChanged, ReasonDeleteObjectTagging, true},
		{"s3:ObjectAcl:Put", "", "", false},
		{"s3:s3:ObjectCreated:Put", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, reason, ok := S3EventNameChange(tt.name)
			if kind != tt.wantKind || reason != tt.wantReason || ok != tt.wantOK {
				t.Errorf("S3EventNameChange(%q) = %q, %q, %v; want %q, %q, %v", tt.name, kind, reason, ok, tt.wantKind, tt.wantReason, tt.wantOK)
			}
		})
	}
}
