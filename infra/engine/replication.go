package engine

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/replication"
)

// ReplicationProps configure the replication pipeline of one Region.
type ReplicationProps struct {
	Config Config
	Region string
	Code   awslambda.Code
}

// Replication is the event path of one Region: an EventBridge rule for the member bucket's
// Object Created / Object Deleted events (the engine's internal prefixes excluded), an encrypted SQS queue with a
// dead-letter queue, and the replicator function that copies each version to the other
// member buckets.
type Replication struct {
	constructs.Construct
	Rule            awsevents.Rule
	Queue           awssqs.Queue
	DeadLetterQueue awssqs.Queue
	Replicator      *EngineFunction
}

// NewReplication creates the pipeline and scopes the replicator's permissions to the member
// buckets, their objects and (with KMS) their keys.
func NewReplication(scope constructs.Construct, id string, p ReplicationProps) *Replication {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()

	dlq := awssqs.NewQueue(c, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		QueueName:       jsii.String(n.DeadLetterQueue(p.Region)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(dlq, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the replication queue and of the EventBridge target; it is watched by the dlq-not-empty alarm.")

	// AWS recommends a visibility timeout of six times the function timeout for SQS sources.
	visibility := min(6*cfg.ReplicatorTimeout, 12*time.Hour)
	queue := awssqs.NewQueue(c, jsii.String("Queue"), &awssqs.QueueProps{
		QueueName:         jsii.String(n.Queue(p.Region)),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(visibility.Seconds())),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(5)},
	})

	rule := awsevents.NewRule(c, jsii.String("ObjectEvents"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("replicate", p.Region)),
		Description: jsii.String("Object Created / Deleted / Tags Added / Tags Deleted of " + n.Bucket(p.Region) + " to the replication queue"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.s3"),
			DetailType: jsii.Strings(events.DetailTypeObjectCreated, events.DetailTypeObjectDeleted, events.DetailTypeObjectTagsAdded, events.DetailTypeObjectTagsDeleted),
			Detail: &map[string]interface{}{
				"bucket": map[string]interface{}{"name": jsii.Strings(n.Bucket(p.Region))},
				// The engine's own per-Region objects (canaries, state, delete-marker records) are
				// never replicated: the replicator would skip them anyway, at a cost per event.
				"object": map[string]interface{}{"key": awsevents.Match_AnythingButPrefix(*jsii.Strings(replication.InternalPrefixes()...)...)},
			},
		},
	})
	rule.AddTarget(awseventstargets.NewSqsQueue(queue, &awseventstargets.SqsQueueProps{DeadLetterQueue: dlq}))

	env := map[string]string{
		"MRAP_MEMBERS":                     membersEnv(cfg),
		"MRAP_REPLICATE_PERMANENT_DELETES": strconv.FormatBool(cfg.ReplicatePermanentDeletes),
		"MRAP_REPLICATE_LIFECYCLE_DELETES": strconv.FormatBool(cfg.ReplicateLifecycleDeletes),
		"MRAP_METRIC_NAMESPACE":            MetricNamespace,
	}
	if cfg.StorageClass != "" {
		env["MRAP_STORAGE_CLASS"] = cfg.StorageClass
	}
	if cfg.UnguardedWrites {
		env["MRAP_UNGUARDED_WRITES"] = "true"
	}
	fn := NewEngineFunction(c, "Replicator", EngineFunctionProps{
		Name:             n.Function("replicator", p.Region),
		Description:      "Copies object versions written in " + p.Region + " to the other member buckets",
		Code:             p.Code,
		Environment:      env,
		Timeout:          cfg.ReplicatorTimeout,
		MemoryMB:         cfg.ReplicatorMemoryMB,
		Reserved:         cfg.ReplicatorReserved,
		LogRetentionDays: cfg.LogRetentionDays,
	})
	fn.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(cfg.ReplicatorBatchSize),
		MaxConcurrency:          jsii.Number(cfg.ReplicatorMaxConcurrency),
		ReportBatchItemFailures: jsii.Bool(true),
	}))
	grantReplicator(fn.Role, cfg, p.Region)

	return &Replication{Construct: c, Rule: rule, Queue: queue, DeadLetterQueue: dlq, Replicator: fn}
}

// grantReplicator gives the replicator read access to every member bucket, write access to
// the other members only, and (with KMS) use of the member keys through S3 only.
func grantReplicator(role awsiam.Role, cfg Config, region string) {
	n := cfg.Names()
	var buckets, objects, destObjects []string
	for _, r := range cfg.Regions {
		buckets = append(buckets, n.BucketArn(r))
		objects = append(objects, n.BucketArn(r)+"/*")
		if r != region {
			destObjects = append(destObjects, n.BucketArn(r)+"/*")
		}
	}
	role.AddToPolicy(statement("ListMemberBuckets", memberListActions, buckets))
	role.AddToPolicy(statement("ReadMemberObjects", memberReadActions, objects))
	// s3:DeleteObjectVersion is always granted, on the other members only: besides replicated
	// version deletes, the write-then-verify path deletes the engine's own replica version when
	// a concurrent winning replica landed just below it, and that path can run in any
	// deployment (unguardedWrites, or a store answering 501 to a write condition, which
	// switches a Region to it at run time).
	// Tags: s3:PutObjectTagging for x-amz-tagging on the PUTs of a copy; a tag change is
	// written to a copy by its version id (PutObjectTagging / DeleteObjectTagging with
	// versionId), which S3 authorizes as s3:PutObjectVersionTagging and
	// s3:DeleteObjectVersionTagging.
	role.AddToPolicy(statement("WriteOtherMemberObjects", memberWriteActions, destObjects))

	var reasons []string
	for _, o := range objects {
		reasons = append(reasons, "Resource::"+o)
	}
	suppress(role, "AwsSolutions-IAM5", "Object-level S3 actions need the object ARN wildcard of each member bucket; no other bucket is named.", reasons...)

	if cfg.KMS {
		grantMemberKeys(role, cfg, []string{"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"})
	}
}

// grantMemberKeys allows actions on the member keys, found by their aliases because key ids
// are not known across Regions, and only when S3 calls KMS on the role's behalf.
func grantMemberKeys(role awsiam.Role, cfg Config, actions []string) {
	n := cfg.Names()
	var keys, aliases, via, reasons []string
	for _, r := range cfg.Regions {
		k := "arn:aws:kms:" + r + ":" + cfg.Account + ":key/*"
		keys = append(keys, k)
		reasons = append(reasons, "Resource::"+k)
		aliases = append(aliases, n.KeyAlias(r))
		via = append(via, "s3."+r+".amazonaws.com")
	}
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("UseMemberKeysThroughS3"),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(keys...),
		Conditions: &map[string]interface{}{
			"ForAnyValue:StringEquals": map[string]interface{}{"kms:ResourceAliases": aliases},
			"StringEquals":             map[string]interface{}{"kms:ViaService": via},
		},
	}))
	suppress(role, "AwsSolutions-IAM5", "Member key ids are not known across Regions; the key wildcard is narrowed by the kms:ResourceAliases (member key aliases) and kms:ViaService (S3) conditions.", reasons...)
}

// statement is an Allow statement with a Sid.
// The member-bucket actions of the replication engine, granted to each function that runs it
// (the replicator's copies, the reconciler's repairs): listing, reading a version with its tags
// and attributes, and writing a copy, a delete marker or a tag set.
var (
	memberListActions = []string{"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
	memberReadActions = []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
		"s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"}
	memberWriteActions = []string{"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging",
		"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
)

func statement(sid string, actions, resources []string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	})
}
