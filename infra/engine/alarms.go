package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Alarm kinds. The health kind (availability) is named with the alarm prefix and counts toward
// failover (ObserverAlarms); operational kinds notify only.
const (
	AlarmAvailability     = "availability"
	AlarmDLQNotEmpty      = "dlq-not-empty"
	AlarmLatency          = "replication-latency"
	AlarmBacklogAge       = "backlog-age"
	AlarmReplicatorErrors = "replicator-errors"
	// AlarmDivergence is the home Region's alarm on the reconciler's Divergence metric.
	AlarmDivergence = "divergence"
)

// RegionAlarmsProps configure the alarms of one Region.
type RegionAlarmsProps struct {
	Config Config
	Region string
}

// RegionAlarms are the operational alarms of one member Region: the dead-letter queue,
// replication latency, backlog age and replicator errors. (Its health is judged from
// outside: ObserverAlarms in the other observer Regions.)
type RegionAlarms struct {
	constructs.Construct
	Operational []awscloudwatch.Alarm
}

// NewRegionAlarms creates the alarms. They have no actions: their state changes travel as
// events to every decider, whose audit topic publishes them.
func NewRegionAlarms(scope constructs.Construct, id string, p RegionAlarmsProps) *RegionAlarms {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()
	m := metricSource{names: n, of: p.Region}
	periods := jsii.Number(cfg.Alarms.EvaluationPeriods)

	dlq := awscloudwatch.NewAlarm(c, jsii.String("DeadLetterQueue"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(p.Region, AlarmDLQNotEmpty)),
		AlarmDescription:   jsii.String("Events of " + p.Region + " could not be replicated and wait in " + n.DeadLetterQueue(p.Region) + "; redrive after fixing the cause."),
		Metric:             m.queue(n.DeadLetterQueue(p.Region), "ApproximateNumberOfMessagesVisible", "Maximum"),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	latency := awscloudwatch.NewAlarm(c, jsii.String("Latency"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(p.Region, AlarmLatency)),
		AlarmDescription:   jsii.String("p90 replication latency from " + p.Region + " is above the threshold."),
		Metric:             m.replicationLatency("p90"),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(float64(cfg.Alarms.Latency.Milliseconds())),
		EvaluationPeriods:  periods,
		DatapointsToAlarm:  periods,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	backlog := awscloudwatch.NewAlarm(c, jsii.String("BacklogAge"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(p.Region, AlarmBacklogAge)),
		AlarmDescription:   jsii.String("The oldest event waiting in " + n.Queue(p.Region) + " is older than the latency threshold: replication is stuck or too slow."),
		Metric:             m.queue(n.Queue(p.Region), "ApproximateAgeOfOldestMessage", "Maximum"),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(cfg.Alarms.Latency.Seconds()),
		EvaluationPeriods:  periods,
		DatapointsToAlarm:  periods,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	errors := awscloudwatch.NewAlarm(c, jsii.String("ReplicatorErrors"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(p.Region, AlarmReplicatorErrors)),
		AlarmDescription:   jsii.String("Replicator errors and failed records in " + p.Region + " per minute are above the threshold."),
		Metric:             m.replicatorErrors(),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(cfg.Alarms.ReplicatorErrors),
		EvaluationPeriods:  periods,
		DatapointsToAlarm:  periods,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	return &RegionAlarms{
		Construct:   c,
		Operational: []awscloudwatch.Alarm{dlq, latency, backlog, errors},
	}
}
