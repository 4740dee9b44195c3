package engine

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/replication"
)

func TestDivergenceAlarm(t *testing.T) {
	tests := []struct {
		name   string
		app    func(*testing.T) *built
		home   string
		period int // seconds: the reconcile rate
	}{
		{"cdk.json (hourly reconcile)", defaultApp, "us-east-1", 3600},
		{"reconcile every 2 hours", fiveRegionApp, "us-west-2", 7200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.app(t)
			name := "mrap-engine-ops-" + tt.home + "-divergence"
			must(t, "divergence alarm", func() {
				b.tpl["Control"].HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
					"AlarmName":          name,
					"Namespace":          "MRAPEngine",
					"MetricName":         "Divergence",
					"Dimensions":         assertions.Match_Absent(),
					"Statistic":          "Sum",
					"Period":             tt.period,
					"ComparisonOperator": "GreaterThanThreshold",
					"Threshold":          0,
					"EvaluationPeriods":  2,
					"DatapointsToAlarm":  2,
					"TreatMissingData":   "notBreaching",
					"AlarmActions":       assertions.Match_Absent(),
				})
			})
			// Operational, not health: the audit rule sees its state changes, the failover rule does not.
			rules := resources(b.json["Decider-"+tt.home], "AWS::Events::Rule")
			matched := map[string]bool{}
			for _, r := range rules {
				p := props(r)
				pattern, _ := p["EventPattern"].(map[string]any)
				detail, _ := pattern["detail"].(map[string]any)
				if detail == nil {
					continue
				}
				names, _ := detail["alarmName"].([]any)
				for _, m := range names {
					if prefix, ok := m.(map[string]any)["prefix"].(string); ok && strings.HasPrefix(name, prefix) {
						matched[p["Name"].(string)] = true
					}
				}
			}
			if !matched["mrap-engine-notify-alarms"] {
				t.Errorf("the audit rule does not match %s", name)
			}
			if failover := "mrap-engine-failover-alarms-" + tt.home; matched[failover] {
				t.Errorf("%s matches %s: divergence must never fail over", failover, name)
			}
			if strings.HasPrefix(name, b.cfg.Names().AlarmPrefix()) {
				t.Errorf("%s carries the health alarm prefix", name)
			}
			body := asJSON(props(firstOf(t, resources(b.json["Control"], "AWS::CloudWatch::Dashboard")))["DashboardBody"])
			if !strings.Contains(body, "alarm:"+name) {
				t.Errorf("the dashboard does not show %s", name)
			}
		})
	}
}

func TestBatchRepairFollowsItsFlag(t *testing.T) {
	tests := []struct {
		name string
		app  func(*testing.T) *built
		on   bool
	}{
		{"batchRepair false (cdk.json)", defaultApp, false},
		{"batchRepair true", fullApp, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.app(t)
			for _, r := range b.cfg.Regions {
				id := "Region-" + r
				tj := b.json[id]
				var fns, roles []string
				for _, f := range resources(tj, "AWS::Lambda::Function") {
					if n, ok := props(f)["FunctionName"].(string); ok {
						fns = append(fns, n)
					}
				}
				for _, role := range resources(tj, "AWS::IAM::Role") {
					if n, ok := props(role)["RoleName"].(string); ok {
						roles = append(roles, n)
					}
				}
				inventories := 0
				for _, bucket := range resources(tj, "AWS::S3::Bucket") {
					if _, ok := props(bucket)["InventoryConfigurations"]; ok {
						inventories++
					}
				}
				outputs, _ := tj["Outputs"].(map[string]any)
				_, handlerOut := outputs["BatchHandlerArn"]
				_, roleOut := outputs["BatchJobRoleArn"]
				_, inventoryOut := outputs["InventoryLocation"]
				got := map[string]bool{
					"batch handler":      slices.Contains(fns, "mrap-engine-batch-"+r),
					"job role":           slices.Contains(roles, "mrap-engine-batch-jobs-"+r),
					"inventory":          inventories == 1,
					"handler output":     handlerOut,
					"job role output":    roleOut,
					"inventory location": inventoryOut,
				}
				for what, present := range got {
					if present != tt.on {
						t.Errorf("%s: %s present = %v, want %v", r, what, present, tt.on)
					}
				}
				if !tt.on && inventories != 0 {
					t.Errorf("%s: %d inventories with batch repair off", r, inventories)
				}
			}
			body := asJSON(props(firstOf(t, resources(b.json["Control"], "AWS::CloudWatch::Dashboard")))["DashboardBody"])
			if got := strings.Contains(body, "mrap-engine-batch-"); got != tt.on {
				t.Errorf("dashboard graphs the batch handler: %v, want %v", got, tt.on)
			}
		})
	}
}

func TestMarkerAndTagRecordsExpire(t *testing.T) {
	tests := []struct {
		name string
		app  func(*testing.T) *built
		days int // 0: no rule
	}{
		{"cdk.json: 30 days", defaultApp, 30},
		{"3 Regions: default 30 days", fullApp, 30},
		{"markerRecordDays 0 keeps them", fiveRegionApp, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.app(t)
			for _, r := range b.cfg.Regions {
				tpl := b.tpl["Region-"+r]
				member := map[string]any{"BucketName": b.cfg.Names().Bucket(r)}
				rule := func(id, prefix string) any {
					return assertions.Match_ObjectLike(&map[string]any{
						"Id":                          id,
						"Prefix":                      prefix,
						"ExpirationInDays":            tt.days,
						"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 1},
						"Status":                      "Enabled",
					})
				}
				if tt.days > 0 {
					member["LifecycleConfiguration"] = map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{
						rule("expire-delete-marker-records", ".mrap-state/markers/"), rule("expire-tag-records", ".mrap-state/tags/")})}
					must(t, r+" marker record rule", func() {
						tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), member)
					})
					continue
				}
				for _, bucket := range resources(b.json["Region-"+r], "AWS::S3::Bucket") {
					for _, prefix := range []string{MarkerRecordPrefix, TagRecordPrefix} {
						if strings.Contains(asJSON(props(bucket)["LifecycleConfiguration"]), prefix) {
							t.Errorf("%s: a lifecycle rule on %s although markerRecordDays is 0", r, prefix)
						}
					}
				}
			}
		})
	}
}

func TestEngineObjectPrefixesAreInternal(t *testing.T) {
	for _, p := range []string{CanaryPrefix, StateKeyPrefix, MarkerRecordPrefix, DeciderRecordKey("us-east-1"), ReconcileCheckpointKey} {
		if !replication.IsInternalKey(p) {
			t.Errorf("%s is not under an internal prefix of shared/replication: the replicator would copy it", p)
		}
	}
}

func TestReplicationRuleExcludesEveryInternalPrefix(t *testing.T) {
	for name, b := range apps(t) {
		for _, r := range b.cfg.Regions {
			var rule map[string]any
			for _, res := range resources(b.json["Region-"+r], "AWS::Events::Rule") {
				if props(res)["Name"] == "mrap-engine-replicate-"+r {
					rule = props(res)
				}
			}
			if rule == nil {
				t.Fatalf("%s: no replication rule in %s", name, r)
			}
			key := rule["EventPattern"].(map[string]any)["detail"].(map[string]any)["object"].(map[string]any)["key"].([]any)
			if len(key) != 1 {
				t.Fatalf("%s %s: key pattern %s, want one anything-but condition", name, r, asJSON(key))
			}
			excluded := strs(key[0].(map[string]any)["anything-but"].(map[string]any)["prefix"])
			if !slices.Equal(excluded, replication.InternalPrefixes()) {
				t.Errorf("%s %s: the rule excludes %v, want every internal prefix %v", name, r, excluded, replication.InternalPrefixes())
			}
			// The rule as EventBridge applies it: no internal key passes, user keys do.
			passes := func(k string) bool {
				for _, p := range excluded {
					if strings.HasPrefix(k, p) {
						return false
					}
				}
				return true
			}
			for k, want := range map[string]bool{
				".mrap-canary/us-east-1/x": false, ".mrap-state/failover.json": false, markerRecordKey("v1"): false,
				"photos/cat.jpg": true, ".mrap-stateful/x": true, "x/.mrap-state/y": true,
			} {
				if passes(k) != want {
					t.Errorf("%s %s: key %q passes the rule = %v, want %v", name, r, k, passes(k), want)
				}
			}
		}
	}
}

// markerRecordKey has the shape of a delete-marker record key (s3store.MarkerRecordKey:
// prefix, hex SHA-256 of the key, marker version id).
func markerRecordKey(versionID string) string {
	return MarkerRecordPrefix + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/" + versionID
}

func TestEveryRepairingRoleReadsMarkerRecordsEverywhereAndWritesThemAtDestinations(t *testing.T) {
	b := fullApp(t)
	n := b.cfg.Names()
	record := func(region string) string { return n.BucketArn(region) + "/" + markerRecordKey("v1") }
	for _, r := range b.cfg.Regions {
		stmts := policyStatements(b.json["Region-"+r])
		var replicator []map[string]any
		for id, s := range stmts {
			if strings.HasPrefix(id, "ReplicationReplicatorRole") {
				replicator = append(replicator, s...)
			}
		}
		if len(replicator) == 0 {
			t.Fatalf("%s: no replicator policy", r)
		}
		for _, m := range b.cfg.Regions {
			for _, action := range []string{"s3:GetObject", "s3:GetObjectVersion"} {
				if !allows(replicator, action, record(m)) {
					t.Errorf("replicator of %s may not %s the marker records of %s", r, action, m)
				}
			}
			if got, want := allows(replicator, "s3:PutObject", record(m)), m != r; got != want {
				t.Errorf("replicator of %s may write marker records in %s: %v, want %v", r, m, got, want)
			}
		}
	}
	var reconciler []map[string]any
	for id, s := range policyStatements(b.json["Control"]) {
		if strings.HasPrefix(id, "ReconcilerRole") {
			reconciler = append(reconciler, s...)
		}
	}
	for _, m := range b.cfg.Regions {
		if !allows(reconciler, "s3:GetObject", record(m)) || !allows(reconciler, "s3:PutObject", record(m)) {
			t.Errorf("the reconciler may not read and write the marker records of %s", m)
		}
	}
}

// allows reports whether an Allow statement grants action on resource (IAM wildcards * and ?)
// and no Deny statement refuses it.
func allows(stmts []map[string]any, action, resource string) bool {
	allowed := false
	for _, s := range stmts {
		if !matchesAny(strs(s["Action"]), action) || !matchesAny(strs(s["Resource"]), resource) {
			continue
		}
		if s["Effect"] == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func matchesAny(patterns []string, value string) bool {
	for _, p := range patterns {
		// path.Match treats '/' as a separator; IAM's '*' crosses it.
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(value, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

func firstOf(t *testing.T, m map[string]map[string]any) map[string]any {
	t.Helper()
	for _, v := range m {
		return v
	}
	t.Fatal("no resource")
	return nil
}
