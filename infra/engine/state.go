package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StateVersionDays is how long noncurrent versions of state objects are kept: a week of every
// decider's records for a post-incident review (a decider rewrites its record every decision).
const StateVersionDays = 7

// StateBucketProps configure the state bucket of one Region.
type StateBucketProps struct {
	Names  Names
	Region string
	// Logs receives the bucket's server access logs (the member's access log bucket in a
	// member Region); nil creates a log bucket of the Region's own.
	Logs awss3.IBucket
}

// StateBucket is the small bucket of one Region of S (members, witnesses, deciders) that holds
// that Region's copy of every decider's record (MRAP_STATE_COPIES) and, in the home Region,
// the reconcile checkpoint. It is not a member bucket: nothing in it is replicated or shows
// through the access point.
type StateBucket struct {
	constructs.Construct
	Bucket awss3.Bucket
	Logs   awss3.IBucket
}

// NewStateBucket creates the versioned, private, TLS-only, encrypted state bucket with server
// access logs; noncurrent versions expire after StateVersionDays.
func NewStateBucket(scope constructs.Construct, id string, p StateBucketProps) *StateBucket {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := p.Logs
	if logs == nil {
		logs = newAccessLogBucket(c, "AccessLogs", p.Names.AccessLogBucket(p.Region),
			"This bucket is the access log destination of the state bucket; logging it into itself would loop.")
	}
	bucket := awss3.NewBucket(c, jsii.String("Bucket"), &awss3.BucketProps{
		BucketName:             jsii.String(p.Names.StateBucket(p.Region)),
		Versioned:              jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("state-access/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-old-state"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(StateVersionDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	return &StateBucket{Construct: c, Bucket: bucket, Logs: logs}
}

// newAccessLogBucket creates a server access log bucket: private, TLS only, encrypted,
// versioned, logs kept a year; reason says why it does not log itself (cdk-nag S1).
func newAccessLogBucket(scope constructs.Construct, id, name, reason string) awss3.Bucket {
	logs := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		BucketName:        jsii.String(name),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                          jsii.String("expire-access-logs"),
			Expiration:                  awscdk.Duration_Days(jsii.Number(365)),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
	suppress(logs, "AwsSolutions-S1", reason)
	return logs
}
