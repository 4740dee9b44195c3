package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/prober"
)

// The full app: members eu-west-1, us-east-1, eu-central-1 (home eu-west-1), witness us-east-2,
// deciders eu-west-1 and ap-northeast-1, relay us-west-2.
const acct = "123456789012"

func TestProberProbesEveryOtherMemberWithItsOwnCanaryOnly(t *testing.T) {
	b := fullApp(t)
	tests := []struct {
		stack, observer string
		targets         []string
	}{
		{"Probe-us-east-1", "us-east-1", []string{"eu-west-1", "eu-central-1"}},
		{"Witness-us-east-2", "us-east-2", []string{"eu-west-1", "us-east-1", "eu-central-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.observer, func(t *testing.T) {
			must(t, "prober function and schedule", func() {
				b.tpl[tt.stack].HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
					"FunctionName":  "mrap-engine-prober-" + tt.observer,
					"Runtime":       "provided.al2023",
					"Architectures": []any{"arm64"},
					"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
						"MRAP_ACCOUNT_ID":    acct,
						"MRAP_MEMBERS":       "eu-west-1=mrap-engine-123456789012-eu-west-1,us-east-1=mrap-engine-123456789012-us-east-1,eu-central-1=mrap-engine-123456789012-eu-central-1",
						"MRAP_CANARY_PREFIX": CanaryPrefix,
						"MRAP_ARN":           assertions.Match_AnyValue(),
					})},
				})
				b.tpl[tt.stack].HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{"ScheduleExpression": "rate(1 minute)"})
			})
			tj := b.json[tt.stack]
			var canaries, seeds, buckets []string
			for _, tg := range tt.targets {
				canaries = append(canaries, "arn:aws:s3:::mrap-engine-123456789012-"+tg+"/.mrap-canary/from-"+tt.observer)
				seeds = append(seeds, "arn:aws:s3:::mrap-engine-123456789012-"+tg+"/.mrap-canary/global")
				buckets = append(buckets, "arn:aws:s3:::mrap-engine-123456789012-"+tg)
			}
			for sid, want := range map[string][]string{"RegionalCanaries": canaries, "SeedGlobalCanary": seeds, "FindCanaries": buckets} {
				if got := strs(statementBySid(t, tj, "ProberRole", sid)["Resource"]); !slices.Equal(got, want) {
					t.Errorf("%s on %v, want %v", sid, got, want)
				}
			}
			global := statementBySid(t, tj, "ProberRole", "GlobalCanary")
			if got := strs(global["Action"]); !slices.Equal(got, []string{"s3:GetObject"}) {
				t.Errorf("global canary actions = %v, want read only", got)
			}
			if r := asJSON(global["Resource"]); !strings.Contains(r, "accesspoint/") || !strings.Contains(r, "/object/.mrap-canary/global") {
				t.Errorf("global canary resources %s do not name the access point's global canary", r)
			}
			if !strings.Contains(asJSON(statementBySid(t, tj, "ProberRole", "UseMemberKeysThroughS3")), "alias/mrap-engine-eu-central-1") {
				t.Error("the prober cannot use the targets' KMS keys")
			}
		})
	}
}

func TestObserverAlarmsOnePerTargetInTheObserversRegion(t *testing.T) {
	b := fullApp(t)
	for _, o := range b.cfg.Observers() {
		stack := "Probe-" + o
		if b.cfg.IsWitness(o) {
			stack = "Witness-" + o
		}
		alarms := resources(b.json[stack], "AWS::CloudWatch::Alarm")
		targets := Targets(b.cfg, o)
		if len(alarms) != len(targets) {
			t.Errorf("%s has %d alarms, want one per target %v", stack, len(alarms), targets)
		}
		for _, tg := range targets {
			must(t, stack+" health alarm on "+tg, func() {
				b.tpl[stack].HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
					"AlarmName":  "mrap-engine-health-" + tg + "-from-" + o + "-availability",
					"MetricName": "CanaryAvailability",
					"Namespace":  "MRAPEngine",
					"Dimensions": assertions.Match_ArrayEquals(&[]any{
						map[string]any{"Name": "Observer", "Value": o},
						map[string]any{"Name": "Path", "Value": "regional"},
						map[string]any{"Name": "Region", "Value": tg},
					}),
					"ComparisonOperator": "LessThanThreshold",
					"Threshold":          0.9,
					"EvaluationPeriods":  3,
					"DatapointsToAlarm":  3,
					"TreatMissingData":   "missing",
					"AlarmActions":       assertions.Match_Absent(),
				})
			})
		}
	}
	for _, r := range b.cfg.Regions {
		for _, a := range resources(b.json["Region-"+r], "AWS::CloudWatch::Alarm") {
			if name := props(a)["AlarmName"].(string); strings.HasPrefix(name, b.cfg.Names().AlarmPrefix()) {
				t.Errorf("member %s judges itself: health alarm %s in its own stack", r, name)
			}
		}
	}
}

func TestRegionOperationalAlarms(t *testing.T) {
	b := fullApp(t)
	tpl := b.tpl["Region-eu-central-1"]
	for _, kind := range []string{AlarmDLQNotEmpty, AlarmLatency, AlarmBacklogAge, AlarmReplicatorErrors} {
		must(t, kind, func() {
			tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"AlarmName":        "mrap-engine-ops-eu-central-1-" + kind,
				"TreatMissingData": "notBreaching",
			})
		})
	}
	must(t, "latency threshold in ms", func() {
		tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"AlarmName": "mrap-engine-ops-eu-central-1-replication-latency",
			"Threshold": 300000,
		})
	})
	must(t, "no alarm actions (events carry state changes)", func() {
		tpl.AllResourcesProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{"AlarmActions": assertions.Match_Absent()})
	})
}

// busTargets returns the event bus ARNs a rule named name targets in a template.
func busTargets(t *testing.T, tpl map[string]any, name string) []string {
	t.Helper()
	for _, r := range resources(tpl, "AWS::Events::Rule") {
		if props(r)["Name"] != name {
			continue
		}
		var out []string
		for _, tg := range props(r)["Targets"].([]any) {
			out = append(out, strs(tg.(map[string]any)["Arn"])...)
		}
		slices.Sort(out)
		return out
	}
	return nil
}

func TestForwardingReachesEveryOtherDecider(t *testing.T) {
	b := fullApp(t)
	bus := func(r string) string { return "arn:aws:events:" + r + ":123456789012:event-bus/default" }
	both := []string{bus("ap-northeast-1"), bus("eu-west-1")}
	tests := []struct {
		stack, region  string
		alarms, health []string // targets of the forward-alarms and forward-health rules; nil = no rule
	}{
		{"Region-us-east-1", "us-east-1", both, both},                                                       // member and backup Region
		{"Region-eu-central-1", "eu-central-1", both, both},                                                 // member
		{"Region-eu-west-1", "eu-west-1", []string{bus("ap-northeast-1")}, []string{bus("ap-northeast-1")}}, // member and decider: the other decider only
		{"Witness-us-east-2", "us-east-2", both, nil},                                                       // witness: alarms only
		{"Decider-ap-northeast-1", "ap-northeast-1", []string{bus("eu-west-1")}, nil},
		{"Relay-us-west-2", "us-west-2", nil, both}, // backup Region: health only
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			if got := busTargets(t, b.json[tt.stack], "mrap-engine-forward-alarms-"+tt.region); !slices.Equal(got, tt.alarms) {
				t.Errorf("alarm forwarding to %v, want %v", got, tt.alarms)
			}
			if got := busTargets(t, b.json[tt.stack], "mrap-engine-forward-health-"+tt.region); !slices.Equal(got, tt.health) {
				t.Errorf("health forwarding to %v, want %v", got, tt.health)
			}
		})
	}
	must(t, "health rules match the affected Region, not the delivering one", func() {
		b.tpl["Relay-us-west-2"].HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{
				"source": []any{"aws.health"}, "detail-type": []any{"AWS Health Event"},
				"detail": map[string]any{"service": []any{"S3"}, "eventRegion": []any{"eu-west-1", "us-east-1", "eu-central-1"}},
			},
		})
	})
	must(t, "alarm forwarding matches the engine's alarms only", func() {
		b.tpl["Witness-us-east-2"].HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{
				"source":      []any{"aws.cloudwatch"},
				"detail-type": []any{"CloudWatch Alarm State Change"},
				"detail": map[string]any{"alarmName": []any{
					map[string]any{"prefix": "mrap-engine-health-"}, map[string]any{"prefix": "mrap-engine-ops-"},
				}},
			},
		})
	})
	for id, stmts := range policyStatements(b.json["Relay-us-west-2"]) {
		var got []string
		for _, st := range stmts {
			if asJSON(st["Action"]) != `"events:PutEvents"` {
				t.Errorf("relay policy %s allows %v, want events:PutEvents only", id, st["Action"])
			}
			got = append(got, strs(st["Resource"])...)
		}
		slices.Sort(got)
		if !slices.Equal(got, both) {
			t.Errorf("relay policy %s puts events on %v, want the deciders' buses %v", id, got, both)
		}
	}
}

func TestEveryDeciderRunsTheFailoverPath(t *testing.T) {
	b := fullApp(t)
	for _, d := range []string{"eu-west-1", "ap-northeast-1"} {
		t.Run(d, func(t *testing.T) {
			stack := "Decider-" + d
			tpl, tj := b.tpl[stack], b.json[stack]
			routesOrder := "eu-west-1,us-east-1,us-west-2,ap-southeast-2,ap-northeast-1"
			if d == "ap-northeast-1" {
				routesOrder = "ap-northeast-1,us-east-1,us-west-2,ap-southeast-2,eu-west-1"
			}
			must(t, "failover function and its environment", func() {
				tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
					"FunctionName":                 "mrap-engine-failover-" + d,
					"ReservedConcurrentExecutions": 1,
					"Runtime":                      "provided.al2023",
					"Architectures":                []any{"arm64"},
					"Environment": map[string]any{"Variables": map[string]any{
						"MRAP_MEMBERS":   "eu-west-1=mrap-engine-123456789012-eu-west-1,us-east-1=mrap-engine-123456789012-us-east-1,eu-central-1=mrap-engine-123456789012-eu-central-1",
						"MRAP_WITNESSES": "us-east-2",
						"MRAP_DECIDERS":  "eu-west-1,ap-northeast-1",
						"MRAP_DECIDER":   d,
						"MRAP_STATE_COPIES": "eu-west-1=mrap-engine-state-123456789012-eu-west-1,us-east-1=mrap-engine-state-123456789012-us-east-1," +
							"eu-central-1=mrap-engine-state-123456789012-eu-central-1,us-east-2=mrap-engine-state-123456789012-us-east-2," +
							"ap-northeast-1=mrap-engine-state-123456789012-ap-northeast-1",
						"MRAP_STATE_PREFIX":      ".mrap-state/failover/",
						"MRAP_LEASE_TTL":         "3m0s",
						"MRAP_VIEW_BOUND":        "30s",
						"MRAP_MAX_SKEW":          "5s",
						"MRAP_ACCOUNT_ID":        acct,
						"MRAP_ARN":               assertions.Match_AnyValue(),
						"MRAP_CONTROL_REGIONS":   routesOrder,
						"MRAP_ROUTING_MODE":      "active-passive",
						"MRAP_PRIORITY":          "eu-central-1,eu-west-1,us-east-1",
						"MRAP_MIN_ACTIVE":        "1",
						"MRAP_COOLDOWN":          "5m0s",
						"MRAP_FAILBACK":          "false",
						"MRAP_FAILBACK_WINDOW":   "15m0s",
						"MRAP_INSUFFICIENT_DATA": "ignore",
						"MRAP_ALARM_PREFIX":      "mrap-engine-health-",
						"MRAP_DRY_RUN":           "false",
						"MRAP_AUDIT_TOPIC_ARN":   map[string]any{"Ref": assertions.Match_AnyValue()},
						"MRAP_METRIC_NAMESPACE":  "MRAPEngine",
					}},
				})
			})

			routes := statementBySid(t, tj, "FailoverRole", "RoutesOfThisAccessPoint")
			if got := strs(routes["Action"]); !slices.Equal(got, []string{"s3:GetMultiRegionAccessPointRoutes", "s3:SubmitMultiRegionAccessPointRoutes"}) {
				t.Errorf("routes actions = %v", got)
			}
			if r := asJSON(routes["Resource"]); !strings.Contains(r, "accesspoint/") {
				t.Errorf("routes resource %s is not this access point's ARN", r)
			}
			var alarms, reads, writes, buckets []string
			for _, o := range []string{"eu-west-1", "us-east-1", "eu-central-1", "us-east-2"} {
				alarms = append(alarms, "arn:aws:cloudwatch:"+o+":123456789012:alarm:mrap-engine-health-*-from-"+o+"-*")
			}
			for _, r := range []string{"eu-west-1", "us-east-1", "eu-central-1", "us-east-2", "ap-northeast-1"} {
				bucket := "arn:aws:s3:::mrap-engine-state-123456789012-" + r
				reads = append(reads, bucket+"/.mrap-state/failover/deciders/*")
				writes = append(writes, bucket+"/.mrap-state/failover/deciders/"+d+".json")
				buckets = append(buckets, bucket)
			}
			for sid, want := range map[string][]string{"DescribeObserverAlarms": alarms, "ReadDeciderRecords": reads, "WriteOwnRecord": writes, "FindDeciderRecords": buckets} {
				if got := strs(statementBySid(t, tj, "FailoverRole", sid)["Resource"]); !slices.Equal(got, want) {
					t.Errorf("%s on %v\nwant %v", sid, got, want)
				}
			}
			if got := strs(statementBySid(t, tj, "FailoverRole", "WriteOwnRecord")["Action"]); !slices.Equal(got, []string{"s3:PutObject"}) {
				t.Errorf("own record actions = %v, want s3:PutObject", got)
			}
			publish := statementBySid(t, tj, "FailoverRole", "PublishAudit")
			if asJSON(publish["Action"]) != `"sns:Publish"` || !strings.Contains(asJSON(publish["Resource"]), "Ref") {
				t.Errorf("audit publish statement = %s (want its own topic)", asJSON(publish))
			}

			for _, pattern := range []map[string]any{
				{"source": []any{"aws.cloudwatch"}, "detail-type": []any{"CloudWatch Alarm State Change"},
					"detail": map[string]any{"alarmName": []any{map[string]any{"prefix": "mrap-engine-health-"}}}},
				{"source": []any{"aws.health"}, "detail-type": []any{"AWS Health Event"},
					"detail": map[string]any{"service": []any{"S3"}, "eventRegion": []any{"eu-west-1", "us-east-1", "eu-central-1"}}},
				{"source": []any{"mrap.engine"}, "detail-type": []any{"MRAP Routing Command"}},
			} {
				must(t, "failover rule", func() {
					tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
						"EventPattern": pattern,
						"Targets":      []any{assertions.Match_ObjectLike(&map[string]any{"RetryPolicy": map[string]any{"MaximumRetryAttempts": 2}})},
					})
				})
			}
			must(t, "schedule, audit topic, errors alarm", func() {
				tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
					"Name": "mrap-engine-failover-reevaluate-" + d, "ScheduleExpression": "rate(1 minute)",
				})
				tpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{
					"TopicName": "mrap-engine-audit", "KmsMasterKeyId": assertions.Match_AnyValue(),
				})
				tpl.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
					"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
						"Effect":    "Deny",
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					})})},
				})
				tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
					"Name":    "mrap-engine-notify-alarms",
					"Targets": []any{assertions.Match_ObjectLike(&map[string]any{"Arn": map[string]any{"Ref": assertions.Match_AnyValue()}})},
				})
				tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
					"AlarmName": "mrap-engine-ops-" + d + "-failover-errors", "MetricName": "Errors", "Namespace": "AWS/Lambda",
				})
				tpl.HasOutput(jsii.String("AuditTopicArn"), map[string]any{})
			})
		})
	}
	for _, s := range []string{"Control", "Region-eu-west-1", "Region-us-east-1"} {
		for _, fn := range resources(b.json[s], "AWS::Lambda::Function") {
			if name, _ := props(fn)["FunctionName"].(string); strings.Contains(name, "-failover-") {
				t.Errorf("%s holds a failover function %s outside the decider stacks", s, name)
			}
		}
	}
}

func TestStateBucketInEveryStateRegion(t *testing.T) {
	b := fullApp(t)
	holders := map[string]string{
		"eu-west-1": "Region-eu-west-1", "us-east-1": "Region-us-east-1", "eu-central-1": "Region-eu-central-1",
		"us-east-2": "Witness-us-east-2", "ap-northeast-1": "Decider-ap-northeast-1",
	}
	for _, r := range b.cfg.StateRegions() {
		stack, ok := holders[r]
		if !ok {
			t.Fatalf("no expected holder of the state copy of %s", r)
		}
		must(t, "state bucket of "+r, func() {
			b.tpl[stack].HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
				"BucketName":              "mrap-engine-state-123456789012-" + r,
				"VersioningConfiguration": map[string]any{"Status": "Enabled"},
				"BucketEncryption":        assertions.Match_AnyValue(),
				"PublicAccessBlockConfiguration": map[string]any{
					"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
				},
				"LoggingConfiguration": map[string]any{"DestinationBucketName": assertions.Match_AnyValue(), "LogFilePrefix": "state-access/"},
				"LifecycleConfiguration": map[string]any{"Rules": []any{assertions.Match_ObjectLike(&map[string]any{
					"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": StateVersionDays}, "Status": "Enabled",
				})}},
			})
			b.tpl[stack].HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})})},
			})
		})
		count := 0
		for id, tpl := range b.json {
			for _, bk := range resources(tpl, "AWS::S3::Bucket") {
				if props(bk)["BucketName"] == "mrap-engine-state-123456789012-"+r {
					count++
					if id != stack {
						t.Errorf("state bucket of %s in %s, want %s", r, id, stack)
					}
				}
			}
		}
		if count != 1 {
			t.Errorf("%d state buckets of %s, want 1", count, r)
		}
	}
	if n := len(resources(b.json["Relay-us-west-2"], "AWS::S3::Bucket")); n != 0 {
		t.Errorf("the relay Region holds %d buckets, want none (it is not a state copy)", n)
	}
}

func TestTwoMembersWithoutAWitnessSynthesizeWithAWarning(t *testing.T) {
	// Two members, one of them a decider, a decider outside the members: three state copies.
	b := build(t, map[string]any{"account": acct, "regions": "us-east-1,eu-central-1"})
	if got, want := b.cfg.StateRegions(), []string{"us-east-1", "eu-central-1", "us-west-2"}; !slices.Equal(got, want) {
		t.Fatalf("state copies = %v, want %v", got, want)
	}
	must(t, "warning on the control stack", func() {
		assertions.Annotations_FromStack(b.stacks["Control"]).HasWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String("two member Regions .* and no witness Region: a partition between them can only be held")))
	})
	for id, s := range b.stacks {
		if id == "Control" {
			continue
		}
		must(t, id+" has no warning", func() {
			assertions.Annotations_FromStack(s).HasNoWarning(jsii.String("*"), assertions.Match_AnyValue())
		})
	}
}

func TestDashboardShowsTheObserverMatrixAndEveryDecider(t *testing.T) {
	b := fullApp(t)
	ds := resources(b.json["Control"], "AWS::CloudWatch::Dashboard")
	if len(ds) != 1 {
		t.Fatalf("got %d dashboards, want 1", len(ds))
	}
	body := asJSON(props(firstOf(t, ds))["DashboardBody"])
	want := []string{
		"ReplicationLatency", "ApproximateAgeOfOldestMessage", "mrap-engine-replication-dlq-eu-central-1",
		"Throttles", "Divergence", "RepairsFailed", "KeysSettledByIndex", "ObjectReads", "IndexChunksRejected", "mrap-engine-ops-eu-west-1-reconciler-errors", `MetricName=\\\"Skipped\\\" Region=\\\"eu-central-1\\\"`,
		"Availability of eu-central-1 by observer (left)", "Availability through the access point, by observer",
		"mrap-engine-prober-us-east-2", "mrap-engine-failover-ap-northeast-1",
		"mrap-engine-ops-eu-west-1-failover-errors", "mrap-engine-ops-ap-northeast-1-failover-errors",
	}
	for _, d := range b.cfg.Deciders {
		for _, metric := range []string{"Decisions", "RoutingChanges", "TrafficDial", "ActiveRegions", "TotalOutage"} {
			want = append(want, `\"MRAPEngine\",\"`+metric+`\",\"Decider\",\"`+d+`\"`)
		}
	}
	for _, tg := range b.cfg.Regions {
		for _, o := range b.cfg.Observers() {
			if o == tg {
				continue
			}
			want = append(want,
				"arn:aws:cloudwatch:"+o+":123456789012:alarm:mrap-engine-health-"+tg+"-from-"+o+"-availability",
				`\"CanaryAvailability\",\"Observer\",\"`+o+`\",\"Path\",\"regional\",\"Region\",\"`+tg+`\"`)
		}
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("dashboard lacks %s", w)
		}
	}
	if strings.Contains(body, `-from-eu-central-1-availability\",\"mrap-engine-health-eu-central-1-from-eu-central-1`) || strings.Contains(body, "health-eu-central-1-from-eu-central-1") {
		t.Error("the dashboard shows a Region observing itself")
	}
}

func TestOutputs(t *testing.T) {
	b := fullApp(t)
	for _, id := range []string{"EngineSettings", "AccessPointArn", "AccessPointAlias", "GlobalEndpoint", "StateBucket", "AlarmPrefix", "Deciders", "BucketEuWest1", "BucketUsEast1", "BucketEuCentral1"} {
		must(t, "output "+id, func() { b.tpl["Control"].HasOutput(jsii.String(id), map[string]any{}) })
	}
	must(t, "global endpoint host name", func() {
		b.tpl["Control"].HasOutput(jsii.String("GlobalEndpoint"), map[string]any{
			"Value": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{assertions.Match_AnyValue(), "Alias"}}, ".accesspoint.s3-global.amazonaws.com"}}},
		})
	})
}

// TestDeciderEnvironmentLoadsInTheFailoverFunction feeds each decider's synthesized
// environment to the failover function's own loader: what the CDK passes is what the Go
// engine reads (names, formats, the state copies of every Region of S).
func TestDeciderEnvironmentLoadsInTheFailoverFunction(t *testing.T) {
	for name, b := range apps(t) {
		for _, d := range b.cfg.Deciders {
			t.Run(name+"/"+d, func(t *testing.T) {
				var vars map[string]any
				for _, fn := range resources(b.json["Decider-"+d], "AWS::Lambda::Function") {
					if props(fn)["FunctionName"] == "mrap-engine-failover-"+d {
						vars = props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
					}
				}
				if vars == nil {
					t.Fatal("no failover function")
				}
				// Deploy-time values (tokens in the template) as CloudFormation resolves them.
				resolved := map[string]string{
					"MRAP_ARN":             "arn:aws:s3::" + b.cfg.Account + ":accesspoint/abcdef.mrap",
					"MRAP_AUDIT_TOPIC_ARN": "arn:aws:sns:" + d + ":" + b.cfg.Account + ":mrap-engine-audit",
				}
				for k, v := range vars {
					if s, ok := v.(string); ok {
						resolved[k] = s
					} else if _, ok := resolved[k]; !ok {
						t.Errorf("%s is a deploy-time value %s the test does not resolve", k, asJSON(v))
					}
				}
				env := config.New(func(k string) (string, bool) { v, ok := resolved[k]; return v, ok })
				c := failover.LoadConfig(env, d)
				if err := env.Err(); err != nil {
					t.Fatalf("the failover function refuses its environment: %v", err)
				}
				if c.Decider != d || !slices.Equal(c.Deciders, b.cfg.Deciders) || !slices.Equal(c.Witnesses, b.cfg.Witnesses) {
					t.Errorf("decider %s of %v, witnesses %v; want %s of %v, %v", c.Decider, c.Deciders, c.Witnesses, d, b.cfg.Deciders, b.cfg.Witnesses)
				}
				if len(c.StateCopies) != len(b.cfg.StateRegions()) {
					t.Errorf("state copies %v, want one per Region of %v", c.StateCopies, b.cfg.StateRegions())
				}
				for _, r := range b.cfg.StateRegions() {
					if c.StateCopies[r] != b.cfg.Names().StateBucket(r) {
						t.Errorf("state copy of %s = %q, want %q", r, c.StateCopies[r], b.cfg.Names().StateBucket(r))
					}
				}
				if c.StatePrefix != FailoverStatePrefix || c.LeaseTTL != b.cfg.LeaseTTL || c.ViewBound != b.cfg.ViewBound || c.MaxSkew != b.cfg.MaxSkew {
					t.Errorf("prefix %q, lease %v, view bound %v, skew %v", c.StatePrefix, c.LeaseTTL, c.ViewBound, c.MaxSkew)
				}
				if c.ControlRegions[0] != RoutesAPIOrder(d)[0] || c.AlarmPrefix != b.cfg.Names().AlarmPrefix() {
					t.Errorf("routes API order %v, alarm prefix %q", c.ControlRegions, c.AlarmPrefix)
				}
			})
		}
	}
}

// TestObserverEnvironmentLoadsInTheProber feeds each observer's synthesized prober environment
// to the prober's own loader: it probes exactly the members its role may touch, with the
// canary key its role names.
func TestObserverEnvironmentLoadsInTheProber(t *testing.T) {
	b := fullApp(t)
	for _, o := range b.cfg.Observers() {
		t.Run(o, func(t *testing.T) {
			stack := "Probe-" + o
			if b.cfg.IsWitness(o) {
				stack = "Witness-" + o
			}
			resolved := map[string]string{
				"AWS_REGION": o, // set by Lambda
				"MRAP_ARN":   "arn:aws:s3::" + b.cfg.Account + ":accesspoint/abcdef.mrap",
			}
			for _, fn := range resources(b.json[stack], "AWS::Lambda::Function") {
				if props(fn)["FunctionName"] != "mrap-engine-prober-"+o {
					continue
				}
				for k, v := range props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any) {
					if s, ok := v.(string); ok {
						resolved[k] = s
					} else if _, ok := resolved[k]; !ok {
						t.Errorf("%s is a deploy-time value %s the test does not resolve", k, asJSON(v))
					}
				}
			}
			c, err := prober.LoadConfig(func(k string) (string, bool) { v, ok := resolved[k]; return v, ok })
			if err != nil {
				t.Fatalf("the prober refuses its environment: %v", err)
			}
			var targets []string
			for _, m := range c.Targets {
				targets = append(targets, m.Region)
			}
			if !slices.Equal(targets, Targets(b.cfg, o)) {
				t.Errorf("the prober probes %v, its role and alarms cover %v", targets, Targets(b.cfg, o))
			}
			// The key the engine's prober writes (its client is never called here).
			p, err := health.NewProber([]health.Target{{Region: targets[0], Path: health.PathRegional, Bucket: c.Targets[0].Bucket, Client: &s3.Client{}}},
				nil, health.ProberOptions{Prefix: c.CanaryPrefix, Observer: c.Observer})
			if err != nil {
				t.Fatal(err)
			}
			if p.CanaryKey() != CanaryKey(o) || p.GlobalKey() != GlobalCanaryKey {
				t.Errorf("the prober writes %s and reads %s; its role names %s and %s", p.CanaryKey(), p.GlobalKey(), CanaryKey(o), GlobalCanaryKey)
			}
		})
	}
}
