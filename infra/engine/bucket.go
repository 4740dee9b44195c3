package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/replication"
)

// InventoryPrefix is where the member bucket's inventory lands in its log bucket.
const InventoryPrefix = "inventory"

// BatchReportPrefix is where S3 Batch Operations repair jobs write their completion reports.
const BatchReportPrefix = "batch-reports/"

// CanaryPrefix is the key prefix of the prober's canary objects (MRAP_CANARY_PREFIX default);
// canaries are never replicated and expire after a day.
const CanaryPrefix = replication.CanaryPrefix

// MarkerRecordPrefix is the key prefix of the records of the delete markers the engine wrote
// (s3store: one small object per marker in each member bucket, read at the source and written at
// the destination). It lies inside the internal prefix .mrap-state/: never replicated nor
// reconciled. An expired record only makes its old marker look like an original one.
const MarkerRecordPrefix = replication.MarkerRecordPrefix

// TagRecordPrefix is the key prefix of the records of the tag sets the engine wrote on
// replica copies; they expire with the delete-marker records (MarkerRecordDays).
const TagRecordPrefix = replication.TagRecordPrefix

// MemberBucketProps configure the member bucket of one Region.
type MemberBucketProps struct {
	Names                 Names
	Region                string
	KMS                   bool // SSE-KMS with a customer managed key instead of SSE-S3
	NoncurrentVersionDays int
	AbortMultipartDays    int
	// MarkerRecordDays expires the delete-marker records (MarkerRecordPrefix) after that many
	// days, their noncurrent versions a day later; 0 keeps them.
	MarkerRecordDays int
	// Inventory adds the weekly inventory, the manifest of S3 Batch Operations repair jobs.
	Inventory bool
}

// MemberBucket is the versioned bucket of one Region behind the Multi-Region Access Point:
// deterministic name, public access blocked, TLS only, encrypted, EventBridge notifications
// on, lifecycle for noncurrent versions, incomplete uploads, canaries and delete-marker
// records, server access logs and (with batch repair) a weekly inventory, the manifest of
// batch repairs, into a sibling bucket. Buckets are retained when the stack is deleted.
type MemberBucket struct {
	constructs.Construct
	Bucket awss3.Bucket
	Key    awskms.Key // nil unless KMS is on
	Logs   awss3.Bucket
}

// NewMemberBucket creates the bucket, its access log bucket and (with KMS) its key.
func NewMemberBucket(scope constructs.Construct, id string, p MemberBucketProps) *MemberBucket {
	c := constructs.NewConstruct(scope, jsii.String(id))

	logs := newAccessLogBucket(c, "AccessLogs", p.Names.AccessLogBucket(p.Region),
		"This bucket is the access log (and inventory) destination of the member bucket; logging it into itself would loop.")

	props := &awss3.BucketProps{
		BucketName:             jsii.String(p.Names.Bucket(p.Region)),
		Versioned:              jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("s3-access/"),
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				Id:                                  jsii.String("noncurrent-versions-and-incomplete-uploads"),
				NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(p.NoncurrentVersionDays)),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(p.AbortMultipartDays)),
			},
			{
				Id:                          jsii.String("expire-canaries"),
				Prefix:                      jsii.String(CanaryPrefix),
				Expiration:                  awscdk.Duration_Days(jsii.Number(1)),
				NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
			},
		},
	}
	if p.MarkerRecordDays > 0 {
		// Expiring a current record leaves a delete marker; the Expiration action also removes
		// such markers once no version is left.
		rules := append(*props.LifecycleRules, &awss3.LifecycleRule{
			Id:                          jsii.String("expire-delete-marker-records"),
			Prefix:                      jsii.String(MarkerRecordPrefix),
			Expiration:                  awscdk.Duration_Days(jsii.Number(p.MarkerRecordDays)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
		}, &awss3.LifecycleRule{
			// A tag record only tells an echo of the engine's own tag write, which arrives
			// within minutes, from a user's change: an expired one costs nothing.
			Id:                          jsii.String("expire-tag-records"),
			Prefix:                      jsii.String(TagRecordPrefix),
			Expiration:                  awscdk.Duration_Days(jsii.Number(p.MarkerRecordDays)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
		})
		props.LifecycleRules = &rules
	}
	if p.Inventory {
		// The weekly inventory is the manifest of S3 Batch Operations repair jobs.
		props.Inventories = &[]*awss3.Inventory{{
			InventoryId:           jsii.String("mrap-reconcile"),
			Destination:           &awss3.InventoryDestination{Bucket: logs, Prefix: jsii.String(InventoryPrefix)},
			Format:                awss3.InventoryFormat_CSV,
			Frequency:             awss3.InventoryFrequency_WEEKLY,
			IncludeObjectVersions: awss3.InventoryObjectVersion_CURRENT,
		}}
	}
	var key awskms.Key
	if p.KMS {
		key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
			Alias:             jsii.String(p.Names.KeyAlias(p.Region)),
			Description:       jsii.String("Encrypts the member bucket " + p.Names.Bucket(p.Region)),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		props.Encryption = awss3.BucketEncryption_KMS
		props.EncryptionKey = key
		props.BucketKeyEnabled = jsii.Bool(true)
	} else {
		props.Encryption = awss3.BucketEncryption_S3_MANAGED
	}
	bucket := awss3.NewBucket(c, jsii.String("Bucket"), props)
	// EventBridge notifications set on the bucket resource itself: the L2 eventBridgeEnabled
	// flag would add a notifications custom resource (and its Lambda) for no gain.
	bucket.Node().DefaultChild().(awss3.CfnBucket).AddPropertyOverride(
		jsii.String("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled"), true)

	return &MemberBucket{Construct: c, Bucket: bucket, Key: key, Logs: logs}
}
