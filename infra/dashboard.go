package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DashboardProps configure the engine dashboard.
type DashboardProps struct {
	Config Config
}

// Dashboard is one CloudWatch dashboard in the home Region over every member Region: traffic
// dial and canary availability per Region, replication latency and backlog, errors and dead
// letters, failover decisions, reconciler repairs, and the state of every engine alarm.
type Dashboard struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
}

// regionalFunctions are the functions every member Region runs.
func regionalFunctions(cfg Config) []string {
	if cfg.BatchRepair {
		return []string{"replicator", "prober", "batch"}
	}
	return []string{"replicator", "prober"}
}

// NewDashboard creates the dashboard. Metrics are addressed by the deterministic names of the
// regional resources, so no cross-Region reference is needed.
func NewDashboard(scope constructs.Construct, id string, p DashboardProps) *Dashboard {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()
	home := metricSource{names: n, region: cfg.HomeRegion, of: cfg.HomeRegion}

	var dial, availability, latency, global, p90, p99, visible, age, dead, errs, replicated []awscloudwatch.IMetric
	var fnErrors, throttles, skipped []awscloudwatch.IMetric
	var alarms []interfacesawscloudwatch.IAlarmRef
	for _, r := range cfg.Regions {
		m := metricSource{names: n, region: r, of: r}
		dial = append(dial, m.metric(MetricNamespace, "TrafficDial", "Minimum", map[string]string{"Region": r}))
		availability = append(availability, m.canaryAvailability("regional"))
		latency = append(latency, m.canaryLatency("regional"))
		global = append(global, m.canaryAvailability("global"))
		p90 = append(p90, m.replicationLatency("p90"))
		p99 = append(p99, m.replicationLatency("p99"))
		visible = append(visible, m.queue(n.Queue(r), "ApproximateNumberOfMessagesVisible", "Maximum"))
		age = append(age, m.queue(n.Queue(r), "ApproximateAgeOfOldestMessage", "Maximum"))
		dead = append(dead, m.queue(n.DeadLetterQueue(r), "ApproximateNumberOfMessagesVisible", "Maximum"))
		errs = append(errs, m.replicatorErrors())
		replicated = append(replicated, m.replicated())
		skipped = append(skipped, awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf(`SEARCH('{%s,Reason,Region} MetricName="Skipped" Region="%s"', 'Sum', 60)`, MetricNamespace, r)),
			Label:        jsii.String(r),
			SearchRegion: jsii.String(r),
		}))
		for _, fn := range regionalFunctions(cfg) {
			fnErrors = append(fnErrors, m.labelled(m.lambda(n.Function(fn, r), "Errors", "Sum"), fn+" "+r))
			throttles = append(throttles, m.labelled(m.lambda(n.Function(fn, r), "Throttles", "Sum"), fn+" "+r))
		}
		for _, name := range []string{
			n.HealthAlarm(r, AlarmAvailability), n.OpsAlarm(r, AlarmDLQNotEmpty), n.OpsAlarm(r, AlarmLatency),
			n.OpsAlarm(r, AlarmBacklogAge), n.OpsAlarm(r, AlarmReplicatorErrors),
		} {
			arn := fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", r, cfg.Account, name)
			alarms = append(alarms, awscloudwatch.Alarm_FromAlarmArn(c, jsii.String(name), jsii.String(arn)))
		}
	}
	for _, kind := range []string{"failover-errors", "reconciler-errors", AlarmDivergence} {
		name := n.OpsAlarm(cfg.HomeRegion, kind)
		alarms = append(alarms, awscloudwatch.Alarm_FromAlarmArn(c, jsii.String(name), jsii.String(
			fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", cfg.HomeRegion, cfg.Account, name))))
	}

	for _, fn := range []string{"failover", "reconciler"} {
		fnErrors = append(fnErrors, home.labelled(home.lambda(n.Function(fn, cfg.HomeRegion), "Errors", "Sum"), fn))
		throttles = append(throttles, home.labelled(home.lambda(n.Function(fn, cfg.HomeRegion), "Throttles", "Sum"), fn))
	}
	reconcile := func(metric string) awscloudwatch.IMetric {
		return home.labelled(home.metric(MetricNamespace, metric, "Sum", nil), metric)
	}
	failover := func(metric string) awscloudwatch.IMetric {
		return home.metric(MetricNamespace, metric, "Sum", nil)
	}
	graph := func(title string, left []awscloudwatch.IMetric, right ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		props := &awscloudwatch.GraphWidgetProps{
			Title:  jsii.String(title),
			Left:   &left,
			Width:  jsii.Number(8),
			Height: jsii.Number(6),
			Region: jsii.String(cfg.HomeRegion),
		}
		if len(right) > 0 {
			props.Right = &right
		}
		return awscloudwatch.NewGraphWidget(props)
	}

	dash := awscloudwatch.NewDashboard(c, jsii.String("Resource"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(n.Name),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
					Markdown: jsii.String(fmt.Sprintf("# MRAP engine %s\nMode **%s**, priority %v, home Region %s. Alarms named `%s{region}-*` count toward failover; `%s{region}-*` notify only.",
						n.Name, cfg.Mode, cfg.Priority, cfg.HomeRegion, n.AlarmPrefix(), n.OpsAlarmPrefix())),
					Width: jsii.Number(24), Height: jsii.Number(2),
				}),
			},
			{
				graph("Traffic dial per Region (%)", dial),
				graph("Canary availability (left) and p90 latency in ms (right), regional path", availability, latency...),
				graph("Canary availability, global path", global),
			},
			{
				graph("Replication latency p90 / p99 (ms)", p90, p99...),
				graph("Replication backlog: queued events / oldest (s)", visible, age...),
				graph("Objects replicated per minute", replicated),
			},
			{
				graph("Replicator errors and failed records", errs),
				graph("Dead-letter queue depth", dead),
				graph("Failover: decisions, routing changes, total outage",
					[]awscloudwatch.IMetric{failover("Decisions"), failover("RoutingChanges"), failover("TotalOutage")},
					home.metric(MetricNamespace, "ActiveRegions", "Minimum", nil)),
			},
			{
				graph("Function errors (every engine function)", fnErrors),
				graph("Function throttles", throttles),
				graph("Replicator skipped events, by Region and reason", skipped),
			},
			{
				graph("Reconciler: divergence found and repairs (left), keys scanned (right)",
					[]awscloudwatch.IMetric{reconcile("Divergence"), reconcile("DivergentKeys"), reconcile("RepairsDone"), reconcile("RepairsFailed")},
					reconcile("KeysScanned")),
			},
			{
				awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
					Title:  jsii.String("Engine alarms, every Region"),
					Alarms: &alarms,
					Width:  jsii.Number(24),
					Height: jsii.Number(4),
				}),
			},
		},
	})
	return &Dashboard{Construct: c, Dashboard: dash}
}
