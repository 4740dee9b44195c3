package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StateBucketProps configure the failover state bucket.
type StateBucketProps struct {
	Names      Names
	HomeRegion string
}

// StateBucket is the small bucket in the home Region where the failover function keeps its
// state object (MRAP_STATE_BUCKET). It is not a member bucket: the state is not replicated
// and never shows through the access point.
type StateBucket struct {
	constructs.Construct
	Bucket awss3.Bucket
}

// NewStateBucket creates the versioned, private, TLS-only, encrypted state bucket; old
// versions of the state object expire after 30 days.
func NewStateBucket(scope constructs.Construct, id string, p StateBucketProps) *StateBucket {
	c := constructs.NewConstruct(scope, jsii.String(id))
	bucket := awss3.NewBucket(c, jsii.String("Bucket"), &awss3.BucketProps{
		BucketName:        jsii.String(p.Names.StateBucket(p.HomeRegion)),
		Versioned:         jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                          jsii.String("expire-old-state"),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
		}},
	})
	suppress(bucket, "AwsSolutions-S1", "Holds one small state object written only by the failover function; every change it records is also published to the audit topic, and versioning keeps its history.")
	return &StateBucket{Construct: c, Bucket: bucket}
}
