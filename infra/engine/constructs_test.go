package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestMemberBucket(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Region-eu-central-1"]
	must(t, "member bucket", func() {
		tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
			"BucketName":              "mrap-engine-123456789012-eu-central-1",
			"VersioningConfiguration": map[string]any{"Status": "Enabled"},
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
				"BucketKeyEnabled":              true,
				"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "aws:kms"},
			}}},
			"NotificationConfiguration": map[string]any{"EventBridgeConfiguration": map[string]any{"EventBridgeEnabled": true}},
			"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{
					"NoncurrentVersionExpiration":    map[string]any{"NoncurrentDays": 30},
					"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 7},
				}),
				assertions.Match_ObjectLike(&map[string]any{"Prefix": CanaryPrefix, "ExpirationInDays": 1}),
			})},
			"LoggingConfiguration": assertions.Match_ObjectLike(&map[string]any{"LogFilePrefix": "s3-access/"}),
		})
	})
	must(t, "member bucket is retained", func() {
		tpl.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
			"Properties":     assertions.Match_ObjectLike(&map[string]any{"BucketName": "mrap-engine-123456789012-eu-central-1"}),
			"DeletionPolicy": "Retain",
		})
	})
	must(t, "TLS only", func() {
		tpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Deny",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		})
	})
	must(t, "member key", func() {
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Alias"), map[string]any{"AliasName": "alias/mrap-engine-eu-central-1"})
	})
}

func TestMemberBucketWithoutKMSUsesS3ManagedKeys(t *testing.T) {
	b := defaultApp(t)
	tpl := b.tpl["Region-us-east-1"]
	must(t, "SSE-S3", func() {
		tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
			"BucketName": "mrap-engine-111111111111-us-east-1",
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
				"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"},
			}}},
		})
		tpl.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(0))
	})
}

func TestReplicationPipeline(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Region-eu-central-1"]
	must(t, "object events rule", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"Name": "mrap-engine-replicate-eu-central-1",
			"EventPattern": map[string]any{
				"source":      []any{"aws.s3"},
				"detail-type": []any{"Object Created", "Object Deleted", "Object Tags Added", "Object Tags Deleted"},
				"detail": map[string]any{
					"bucket": map[string]any{"name": []any{"mrap-engine-123456789012-eu-central-1"}},
					"object": map[string]any{"key": []any{map[string]any{"anything-but": map[string]any{"prefix": []any{".mrap-canary/", ".mrap-state/"}}}}},
				},
			},
			"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
				"DeadLetterConfig": assertions.Match_ObjectLike(&map[string]any{}),
			})},
		})
	})
	must(t, "queue", func() {
		tpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			"QueueName":              "mrap-engine-replication-eu-central-1",
			"SqsManagedSseEnabled":   true,
			"VisibilityTimeout":      1800, // six times the 300 s function timeout
			"RedrivePolicy":          assertions.Match_ObjectLike(&map[string]any{"maxReceiveCount": 5}),
			"MessageRetentionPeriod": 345600,
		})
		tpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
			"QueueName":            "mrap-engine-replication-dlq-eu-central-1",
			"SqsManagedSseEnabled": true,
		})
	})
	must(t, "replicator function", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"FunctionName":  "mrap-engine-replicator-eu-central-1",
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"Timeout":       300,
			"MemorySize":    512,
			"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
			"Environment": map[string]any{"Variables": map[string]any{
				"MRAP_MEMBERS":                     "eu-west-1=mrap-engine-123456789012-eu-west-1,us-east-1=mrap-engine-123456789012-us-east-1,eu-central-1=mrap-engine-123456789012-eu-central-1",
				"MRAP_REPLICATE_PERMANENT_DELETES": "true",
				"MRAP_REPLICATE_LIFECYCLE_DELETES": "false",
				"MRAP_METRIC_NAMESPACE":            "MRAPEngine",
				"MRAP_UNGUARDED_WRITES":            "true",
			}},
		})
	})
	must(t, "SQS event source", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
			"BatchSize":             10,
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig":         map[string]any{"MaximumConcurrency": 20},
		})
	})
	must(t, "log group retention", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"LogGroupName":    "/aws/lambda/mrap-engine-replicator-eu-central-1",
			"RetentionInDays": 30,
		})
	})
}

func TestReplicatorPermissionsAreScopedToMembers(t *testing.T) {
	b := fullApp(t)
	tpl := b.json["Region-eu-central-1"]
	n := b.cfg.Names()

	write := statementBySid(t, tpl, "ReplicationReplicatorRole", "WriteOtherMemberObjects")
	gotWrite := strs(write["Resource"])
	wantWrite := []string{n.BucketArn("eu-west-1") + "/*", n.BucketArn("us-east-1") + "/*"}
	if !slices.Equal(gotWrite, wantWrite) {
		t.Errorf("replicator writes to %v, want only the other members %v", gotWrite, wantWrite)
	}
	if !slices.Contains(strs(write["Action"]), "s3:DeleteObjectVersion") {
		t.Error("permanent deletes are on but s3:DeleteObjectVersion is not granted")
	}

	read := statementBySid(t, tpl, "ReplicationReplicatorRole", "ReadMemberObjects")
	if got := strs(read["Resource"]); len(got) != 3 {
		t.Errorf("replicator reads %v, want the three member buckets", got)
	}

	keys := statementBySid(t, tpl, "ReplicationReplicatorRole", "UseMemberKeysThroughS3")
	cond := asJSON(keys["Condition"])
	for _, r := range b.cfg.Regions {
		if !strings.Contains(cond, n.KeyAlias(r)) || !strings.Contains(cond, "s3."+r+".amazonaws.com") {
			t.Errorf("key condition %s does not name the alias and S3 endpoint of %s", cond, r)
		}
	}
	if slices.Contains(strs(keys["Action"]), "kms:*") {
		t.Error("replicator may use every KMS action")
	}
}

// The write-then-verify path deletes the engine's own replica version; it can run in every
// deployment (unguardedWrites, or a store refusing a write condition at run time), so the
// replicator may always delete versions, of the other members' objects only.
func TestReplicatorMayDeleteReplicaVersionsForTheVerifyPath(t *testing.T) {
	for name, b := range map[string]*built{"default (conditions, 501 fallback)": defaultApp(t), "unguardedWrites": fullApp(t)} {
		for stack, tpl := range b.json {
			if !strings.HasPrefix(stack, "Region-") {
				continue
			}
			region := strings.TrimPrefix(stack, "Region-")
			write := statementBySid(t, tpl, "ReplicationReplicatorRole", "WriteOtherMemberObjects")
			if !slices.Contains(strs(write["Action"]), "s3:DeleteObjectVersion") {
				t.Errorf("%s, %s: s3:DeleteObjectVersion not granted; the verify path cannot delete its replica", name, stack)
			}
			var tagging []string
			for _, a := range strs(write["Action"]) {
				if strings.Contains(a, "Tagging") {
					tagging = append(tagging, a)
				}
			}
			if want := []string{"s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging"}; !slices.Equal(tagging, want) {
				t.Errorf("%s, %s: tagging actions %v, want exactly %v (tags on copies, tag changes by version id)", name, stack, tagging, want)
			}
			for _, res := range strs(write["Resource"]) {
				if strings.Contains(res, b.cfg.Names().Bucket(region)) {
					t.Errorf("%s, %s: the replicator may write its own Region's bucket (%s)", name, stack, res)
				}
			}
		}
	}
}

func TestAccessPoint(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Control"]
	must(t, "multi-region access point", func() {
		tpl.HasResourceProperties(jsii.String("AWS::S3::MultiRegionAccessPoint"), map[string]any{
			"Name": "mrap-engine",
			"Regions": []any{
				map[string]any{"Bucket": "mrap-engine-123456789012-eu-west-1", "BucketAccountId": "123456789012"},
				map[string]any{"Bucket": "mrap-engine-123456789012-us-east-1", "BucketAccountId": "123456789012"},
				map[string]any{"Bucket": "mrap-engine-123456789012-eu-central-1", "BucketAccountId": "123456789012"},
			},
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
		})
	})
	policies := resources(b.json["Control"], "AWS::S3::MultiRegionAccessPointPolicy")
	if len(policies) != 1 {
		t.Fatalf("got %d access point policies, want 1", len(policies))
	}
	for _, p := range policies {
		if p["DeletionPolicy"] != "Retain" {
			t.Error("the access point policy is not retained (CloudFormation cannot delete it)")
		}
		doc := asJSON(props(p)["Policy"])
		for _, want := range []string{`"Sid":"OnlyThroughPrivateEndpoints"`, `"Effect":"Deny"`, `aws:SourceVpce`,
			"arn:aws:iam::123456789012:role/mrap-engine-prober-eu-central-1", "arn:aws:iam::123456789012:role/mrap-engine-prober-us-east-2", `"/object/*"`} {
			if !strings.Contains(doc, want) {
				t.Errorf("access point policy lacks %s: %s", want, doc)
			}
		}
		if strings.Contains(doc, `"s3:*"`) {
			t.Errorf("access point policy names s3:* (it would also deny the routes API): %s", doc)
		}
	}
}

func TestAccessPointWithoutPrivateAccessHasNoDeny(t *testing.T) {
	b := defaultApp(t)
	for _, p := range resources(b.json["Control"], "AWS::S3::MultiRegionAccessPointPolicy") {
		if doc := asJSON(props(p)["Policy"]); strings.Contains(doc, "Deny") {
			t.Errorf("policy denies without private access: %s", doc)
		}
	}
	if n := len(resources(b.json["Region-us-east-1"], "AWS::EC2::VPCEndpoint")); n != 0 {
		t.Errorf("got %d VPC endpoints without private access", n)
	}
}

func TestInitialRoutes(t *testing.T) {
	b := fullApp(t)
	crs := resources(b.json["Control"], "Custom::AWS")
	if len(crs) != 1 {
		t.Fatalf("got %d AwsCustomResources, want 1", len(crs))
	}
	for _, cr := range crs {
		p := props(cr)
		create, update := asJSON(p["Create"]), asJSON(p["Update"])
		if create != update {
			t.Errorf("create and update calls differ:\n%s\n%s", create, update)
		}
		for _, want := range []string{
			`SubmitMultiRegionAccessPointRoutes`, `\"region\":\"eu-west-1\"`, `\"AccountId\":\"123456789012\"`,
			`{\"Bucket\":\"mrap-engine-123456789012-eu-central-1\",\"Region\":\"eu-central-1\",\"TrafficDialPercentage\":100}`,
			`{\"Bucket\":\"mrap-engine-123456789012-eu-west-1\",\"Region\":\"eu-west-1\",\"TrafficDialPercentage\":0}`,
			`{\"Bucket\":\"mrap-engine-123456789012-us-east-1\",\"Region\":\"us-east-1\",\"TrafficDialPercentage\":0}`,
			`accesspoint/`,
		} {
			if !strings.Contains(create, want) {
				t.Errorf("initial routes call lacks %s:\n%s", want, create)
			}
		}
	}
	must(t, "custom resource may submit routes of this access point only", func() {
		b.tpl["Control"].HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Sid": "SubmitRoutesOfThisAccessPoint", "Effect": "Allow",
				"Action":   "s3:SubmitMultiRegionAccessPointRoutes",
				"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:aws:s3::123456789012:accesspoint/", map[string]any{"Fn::GetAtt": []any{assertions.Match_AnyValue(), "Alias"}}}}},
			}}},
		})
	})
}

func TestPrivateAccess(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Region-us-east-1"]
	must(t, "MRAP interface endpoint", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::VPCEndpoint"), map[string]any{
			"ServiceName":       MRAPEndpointService,
			"VpcEndpointType":   "Interface",
			"PrivateDnsEnabled": true,
		})
		tpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), map[string]any{
			"SecurityGroupIngress": []any{map[string]any{"CidrIp": assertions.Match_StringLikeRegexp(jsii.String(`^10\.\d+\.0\.0/16$`)), "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}},
		})
		tpl.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), map[string]any{"TrafficType": "ALL"})
		tpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0))
		tpl.ResourceCountIs(jsii.String("AWS::EC2::InternetGateway"), jsii.Number(0))
	})
}

func TestReconciler(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Control"]
	must(t, "reconciler function", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"FunctionName":                 "mrap-engine-reconciler-eu-west-1",
			"ReservedConcurrentExecutions": 1,
			"Timeout":                      900,
			"Runtime":                      "provided.al2023",
			"Architectures":                []any{"arm64"},
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				"MRAP_RECONCILE_CHECKPOINT":        "s3://mrap-engine-state-123456789012-eu-west-1/.mrap-state/reconcile/checkpoint.json",
				"MRAP_RECONCILE_CHECKPOINT_REGION": "eu-west-1",
				"MRAP_RECONCILE_INDEX":             "s3://mrap-engine-state-123456789012-eu-west-1/.mrap-state/reconcile/index/",
				"MRAP_RECONCILE_BUDGET":            "14m0s",
				"MRAP_DRY_RUN":                     "false",
			})},
		})
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"Name": "mrap-engine-reconcile-eu-west-1", "ScheduleExpression": "rate(1 hour)",
		})
		tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"AlarmName": "mrap-engine-ops-eu-west-1-reconciler-errors",
		})
	})
	tj := b.json["Control"]
	repair := statementBySid(t, tj, "ReconcilerRole", "RepairMemberObjects")
	if got := strs(repair["Resource"]); len(got) != 3 {
		t.Errorf("reconciler repairs %v, want the three member buckets", got)
	}
	for _, a := range []string{"s3:DeleteObjectVersion", "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging"} {
		if !slices.Contains(strs(repair["Action"]), a) {
			t.Errorf("reconciler lacks %s (verify path; tag repairs by version id)", a)
		}
	}
	cp := statementBySid(t, tj, "ReconcilerRole", "Checkpoint")
	if got := strs(cp["Resource"]); len(got) != 1 || got[0] != "arn:aws:s3:::mrap-engine-state-123456789012-eu-west-1/.mrap-state/reconcile/checkpoint.json" {
		t.Errorf("checkpoint resource = %v, want the checkpoint object only", got)
	}
	idx := statementBySid(t, tj, "ReconcilerRole", "Index")
	if got := strs(idx["Resource"]); len(got) != 1 || got[0] != "arn:aws:s3:::mrap-engine-state-123456789012-eu-west-1/.mrap-state/reconcile/index/*" {
		t.Errorf("index resource = %v, want the index prefix only", got)
	}
}

func TestBatchRepair(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Region-us-east-1"]
	must(t, "batch handler, job role and inventory", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"FunctionName":  "mrap-engine-batch-us-east-1",
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Timeout":       900,
		})
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"RoleName": "mrap-engine-batch-jobs-us-east-1",
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
				"Principal": map[string]any{"Service": "batchoperations.s3.amazonaws.com"},
			})}},
		})
		tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
			"BucketName": "mrap-engine-123456789012-us-east-1",
			"InventoryConfigurations": []any{assertions.Match_ObjectLike(&map[string]any{
				"Id": "mrap-reconcile", "ScheduleFrequency": "Weekly", "IncludedObjectVersions": "Current",
				"Destination": assertions.Match_ObjectLike(&map[string]any{"Format": "CSV", "Prefix": "inventory"}),
			})},
		})
		tpl.HasOutput(jsii.String("BatchJobRoleArn"), map[string]any{})
		tpl.HasOutput(jsii.String("DeadLetterQueueArn"), map[string]any{})
	})
	tj := b.json["Region-us-east-1"]
	invoke := statementBySid(t, tj, "BatchRepairJobRole", "InvokeBatchHandler")
	if a := asJSON(invoke["Action"]); a != `"lambda:InvokeFunction"` || !strings.Contains(asJSON(invoke["Resource"]), "Fn::GetAtt") {
		t.Errorf("job role invokes %s on %s, want the batch handler only", a, asJSON(invoke["Resource"]))
	}
	manifests := statementBySid(t, tj, "BatchRepairJobRole", "ReadInventoryManifests")
	if got := strs(manifests["Resource"]); !slices.Equal(got, []string{"arn:aws:s3:::mrap-engine-logs-123456789012-us-east-1/inventory/*"}) {
		t.Errorf("job role reads %v", got)
	}
	repair := statementBySid(t, tj, "BatchRepairHandlerRole", "RepairMemberObjects")
	if got := strs(repair["Resource"]); len(got) != 3 {
		t.Errorf("batch handler repairs %v, want the three member buckets", got)
	}
}
