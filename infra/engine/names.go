package engine

import (
	"fmt"

	"github.com/mrap-engine/mrap/shared/replication"
)

// Names derives every physical name of a deployment from its name, bucket prefix and account,
// so stacks in different Regions refer to each other's resources without cross-Region
// references.
type Names struct {
	Name         string
	BucketPrefix string
	Account      string
}

// Bucket is the member bucket of region.
func (n Names) Bucket(region string) string {
	return fmt.Sprintf("%s-%s-%s", n.BucketPrefix, n.Account, region)
}

// BucketArn is the ARN of the member bucket of region.
func (n Names) BucketArn(region string) string {
	return "arn:aws:s3:::" + n.Bucket(region)
}

// AccessLogBucket is the bucket that receives server access logs of region's member bucket.
func (n Names) AccessLogBucket(region string) string {
	return fmt.Sprintf("%s-logs-%s-%s", n.BucketPrefix, n.Account, region)
}

// Function is the name of function fn (replicator, prober, failover ...) in region; it is
// also the name of its role and the suffix of its log group.
func (n Names) Function(fn, region string) string {
	return fmt.Sprintf("%s-%s-%s", n.Name, fn, region)
}

// RoleArn is the ARN of the execution role of function fn in region.
func (n Names) RoleArn(fn, region string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", n.Account, n.Function(fn, region))
}

// Queue is the replication queue of region; DeadLetterQueue its dead-letter queue.
func (n Names) Queue(region string) string { return fmt.Sprintf("%s-replication-%s", n.Name, region) }

// DeadLetterQueue is the dead-letter queue of the replication queue of region.
func (n Names) DeadLetterQueue(region string) string {
	return fmt.Sprintf("%s-replication-dlq-%s", n.Name, region)
}

// AlarmPrefix is MRAP_ALARM_PREFIX: the health alarms are named
// "{AlarmPrefix}{target}-from-{observer}-{kind}", and only they count toward failover.
func (n Names) AlarmPrefix() string { return n.Name + "-health-" }

// HealthAlarm is the name of the health alarm kind of member target as observer sees it; it
// lives in observer's Region (counted by the failover quorum).
func (n Names) HealthAlarm(target, observer, kind string) string {
	return n.AlarmPrefix() + target + "-from-" + observer + "-" + kind
}

// OpsAlarmPrefix starts the names of the operational alarms, which notify but never fail over.
func (n Names) OpsAlarmPrefix() string { return n.Name + "-ops-" }

// OpsAlarm is the name of the operational alarm kind of region.
func (n Names) OpsAlarm(region, kind string) string {
	return n.OpsAlarmPrefix() + region + "-" + kind
}

// ObserverAlarmArnPattern is the ARN pattern of the health alarms observer raises about the
// members it probes, in observer's Region (IAM resource of DescribeAlarms).
func (n Names) ObserverAlarmArnPattern(observer string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s*-from-%s-*", observer, n.Account, n.AlarmPrefix(), observer)
}

// AlarmArn is the ARN of the alarm named name in region.
func (n Names) AlarmArn(region, name string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, n.Account, name)
}

// KeyAlias is the alias of region's KMS key (when KMS is on); IAM grants on member keys are
// scoped by it, since key ids are not known across Regions.
func (n Names) KeyAlias(region string) string { return fmt.Sprintf("alias/%s-%s", n.Name, region) }

// StateBucket is the state bucket of region: one in every Region of S (members, witnesses,
// deciders) holds a copy of every decider's record, and the home Region's also holds the
// reconcile checkpoint.
func (n Names) StateBucket(region string) string {
	return fmt.Sprintf("%s-state-%s-%s", n.BucketPrefix, n.Account, region)
}

// StateBucketArn is the ARN of the state bucket of region.
func (n Names) StateBucketArn(region string) string { return "arn:aws:s3:::" + n.StateBucket(region) }

// StateKeyPrefix starts the keys of the engine's state objects in the state bucket.
const StateKeyPrefix = replication.StatePrefix

// FailoverStatePrefix is MRAP_STATE_PREFIX: the deciders' records live under it.
const FailoverStatePrefix = StateKeyPrefix + "failover/"

// DeciderRecordsPrefix starts the key of every decider's record.
const DeciderRecordsPrefix = FailoverStatePrefix + "deciders/"

// DeciderRecordKey is the key of decider's record in every state copy; only that decider
// writes it.
func DeciderRecordKey(decider string) string { return DeciderRecordsPrefix + decider + ".json" }

// CanaryKey is the canary object observer writes, reads and deletes in every member bucket it
// probes over the regional path.
func CanaryKey(observer string) string { return CanaryPrefix + "from-" + observer }

// GlobalCanaryKey is the canary object read through the access point; the regional probes
// make sure every member bucket holds one.
const GlobalCanaryKey = CanaryPrefix + "global"

// DefaultBusArn is the ARN of the default event bus of region.
func (n Names) DefaultBusArn(region string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/default", region, n.Account)
}

// MRAPArn is the ARN of the Multi-Region Access Point with the given alias.
func (n Names) MRAPArn(alias string) string {
	return fmt.Sprintf("arn:aws:s3::%s:accesspoint/%s", n.Account, alias)
}

// MetricNamespace is the CloudWatch namespace of every engine metric (MRAP_METRIC_NAMESPACE).
const MetricNamespace = "MRAPEngine"
