package engine

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DashboardProps configure the engine dashboard.
type DashboardProps struct {
	Config Config
}

// Dashboard is one CloudWatch dashboard in the home Region over every Region: the observer x
// target matrix of health (a graph per member with a line per observer, and the alarm status
// of every health alarm), traffic dials, decisions and routing changes per decider,
// replication latency and backlog, errors and dead letters, reconciler repairs, and the state
// of every engine alarm.
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
	d := dashboardParts{cfg: p.Config, n: p.Config.Names(), scope: c}
	var rows []*[]awscloudwatch.IWidget
	for _, part := range [][][]awscloudwatch.IWidget{
		{d.header()},
		d.healthMatrix(),
		{d.deciders()},
		d.replication(),
		{d.functions()},
		{d.reconciler()},
		d.alarms(),
	} {
		for _, row := range part {
			rows = append(rows, &row)
		}
	}
	dash := awscloudwatch.NewDashboard(c, jsii.String("Resource"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(d.n.Name),
		Widgets:       &rows,
	})
	return &Dashboard{Construct: c, Dashboard: dash}
}

// dashboardParts builds the dashboard's rows, one method per section.
type dashboardParts struct {
	cfg   Config
	n     Names
	scope constructs.Construct // parent of the imported alarms
}

// in returns the metric source of metrics in region about member of.
func (d dashboardParts) in(region, of string) metricSource {
	return metricSource{names: d.n, region: region, of: of}
}

// graph is a third-width graph widget, right axis optional.
func (d dashboardParts) graph(title string, left []awscloudwatch.IMetric, right ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	props := &awscloudwatch.GraphWidgetProps{
		Title:  jsii.String(title),
		Left:   &left,
		Width:  jsii.Number(8),
		Height: jsii.Number(6),
		Region: jsii.String(d.cfg.HomeRegion),
	}
	if len(right) > 0 {
		props.Right = &right
	}
	return awscloudwatch.NewGraphWidget(props)
}

// rowsOf3 lays widgets out three to a row.
func rowsOf3(widgets []awscloudwatch.IWidget) [][]awscloudwatch.IWidget {
	var rows [][]awscloudwatch.IWidget
	for len(widgets) > 0 {
		k := min(3, len(widgets))
		rows = append(rows, widgets[:k])
		widgets = widgets[k:]
	}
	return rows
}

// header names the deployment: mode, priority, roles of the Regions, alarm naming.
func (d dashboardParts) header() []awscloudwatch.IWidget {
	witnesses := "none"
	if len(d.cfg.Witnesses) > 0 {
		witnesses = strings.Join(d.cfg.Witnesses, ", ")
	}
	return []awscloudwatch.IWidget{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String(fmt.Sprintf("# MRAP engine %s\nMode **%s**, priority %v. Members %s; witnesses %s; deciders %s (primary order); home Region %s. "+
			"Health alarms `%s{target}-from-{observer}-availability` are each observer's vote (quorum, docs/failover.md); `%s{region}-*` notify only.",
			d.n.Name, d.cfg.Mode, d.cfg.Priority, strings.Join(d.cfg.Regions, ", "), witnesses, strings.Join(d.cfg.Deciders, ", "),
			d.cfg.HomeRegion, d.n.AlarmPrefix(), d.n.OpsAlarmPrefix())),
		Width: jsii.Number(24), Height: jsii.Number(2),
	})}
}

// healthMatrix is the observer x target matrix: per member, its regional availability and
// latency with one line per observer (each in the observer's Region), then the global path per observer.
func (d dashboardParts) healthMatrix() [][]awscloudwatch.IWidget {
	var widgets []awscloudwatch.IWidget
	for _, t := range d.cfg.Regions {
		var lines, latency []awscloudwatch.IMetric
		for _, o := range d.cfg.Observers() {
			if o == t {
				continue
			}
			m := d.in(o, t)
			lines = append(lines, m.labelled(m.observedAvailability(o, "regional"), "from "+o))
			latency = append(latency, m.labelled(m.observedLatency(o, "regional"), "p90 ms from "+o))
		}
		widgets = append(widgets, d.graph("Availability of "+t+" by observer (left), p90 latency in ms (right), regional path", lines, latency...))
	}
	var global []awscloudwatch.IMetric
	for _, o := range d.cfg.Observers() {
		m := d.in(o, "global")
		global = append(global, m.labelled(m.observedAvailability(o, "global"), "from "+o))
	}
	widgets = append(widgets, d.graph("Availability through the access point, by observer", global))
	return rowsOf3(widgets)
}

// deciders shows what each decider did: decisions and routing changes, the dials in force and
// the active Regions, one line per decider (dimension Decider, in the decider's Region).
func (d dashboardParts) deciders() []awscloudwatch.IWidget {
	var decisions, changes, outage, active, dials []awscloudwatch.IMetric
	for _, dc := range d.cfg.Deciders {
		m := d.in(dc, dc)
		by := map[string]string{"Decider": dc}
		decisions = append(decisions, m.labelled(m.metric(MetricNamespace, "Decisions", "Sum", by), "decisions "+dc))
		changes = append(changes, m.labelled(m.metric(MetricNamespace, "RoutingChanges", "Sum", by), "changes by "+dc))
		outage = append(outage, m.labelled(m.metric(MetricNamespace, "TotalOutage", "Maximum", by), "total outage seen by "+dc))
		active = append(active, m.labelled(m.metric(MetricNamespace, "ActiveRegions", "Minimum", by), "active per "+dc))
		for _, r := range d.cfg.Regions {
			dials = append(dials, m.labelled(m.metric(MetricNamespace, "TrafficDial", "Minimum", map[string]string{"Decider": dc, "Region": r}), r+" per "+dc))
		}
	}
	return []awscloudwatch.IWidget{
		d.graph("Failover decisions per decider (left), total outage (right)", decisions, outage...),
		d.graph("Routing changes per decider (left), active Regions (right)", changes, active...),
		d.graph("Traffic dial per Region (%), as each decider left it", dials),
	}
}

// replication shows the replicator of every member: latency, backlog, throughput, errors,
// dead letters and skipped events.
func (d dashboardParts) replication() [][]awscloudwatch.IWidget {
	var p90, p99, visible, age, dead, errs, replicated, skipped []awscloudwatch.IMetric
	for _, r := range d.cfg.Regions {
		m := d.in(r, r)
		p90 = append(p90, m.replicationLatency("p90"))
		p99 = append(p99, m.replicationLatency("p99"))
		visible = append(visible, m.queue(d.n.Queue(r), "ApproximateNumberOfMessagesVisible", "Maximum"))
		age = append(age, m.queue(d.n.Queue(r), "ApproximateAgeOfOldestMessage", "Maximum"))
		dead = append(dead, m.queue(d.n.DeadLetterQueue(r), "ApproximateNumberOfMessagesVisible", "Maximum"))
		errs = append(errs, m.replicatorErrors())
		replicated = append(replicated, m.replicated())
		skipped = append(skipped, awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf(`SEARCH('{%s,Reason,Region} MetricName="Skipped" Region="%s"', 'Sum', 60)`, MetricNamespace, r)),
			Label:        jsii.String(r),
			SearchRegion: jsii.String(r),
		}))
	}
	return [][]awscloudwatch.IWidget{
		{
			d.graph("Replication latency p90 / p99 (ms)", p90, p99...),
			d.graph("Replication backlog: queued events / oldest (s)", visible, age...),
			d.graph("Objects replicated per minute", replicated),
		},
		{
			d.graph("Replicator errors and failed records", errs),
			d.graph("Dead-letter queue depth", dead),
			d.graph("Replicator skipped events, by Region and reason", skipped),
		},
	}
}

// functions shows errors and throttles of every engine function in every Region.
func (d dashboardParts) functions() []awscloudwatch.IWidget {
	var errs, throttles []awscloudwatch.IMetric
	add := func(fn, region string) {
		m := d.in(region, region)
		errs = append(errs, m.labelled(m.lambda(d.n.Function(fn, region), "Errors", "Sum"), fn+" "+region))
		throttles = append(throttles, m.labelled(m.lambda(d.n.Function(fn, region), "Throttles", "Sum"), fn+" "+region))
	}
	for _, r := range d.cfg.Regions {
		for _, fn := range regionalFunctions(d.cfg) {
			add(fn, r)
		}
	}
	for _, w := range d.cfg.Witnesses {
		add("prober", w)
	}
	for _, dc := range d.cfg.Deciders {
		add("failover", dc)
	}
	add("reconciler", d.cfg.HomeRegion)
	return []awscloudwatch.IWidget{
		d.graph("Function errors (every engine function)", errs),
		d.graph("Function throttles", throttles),
	}
}

// reconciler shows the reconciler's divergence and repairs, and what its verified-versions
// index saves: the keys it settled without a read against the object reads made, and the
// chunks it rejected (each costs its keys' reads: docs/contracts.md, "Reconcile index").
func (d dashboardParts) reconciler() []awscloudwatch.IWidget {
	home := d.in(d.cfg.HomeRegion, d.cfg.HomeRegion)
	reconcile := func(metric string) awscloudwatch.IMetric {
		return home.labelled(home.metric(MetricNamespace, metric, "Sum", nil), metric)
	}
	return []awscloudwatch.IWidget{
		d.graph("Reconciler: divergence found and repairs (left), keys scanned (right)",
			[]awscloudwatch.IMetric{reconcile("Divergence"), reconcile("DivergentKeys"), reconcile("RepairsDone"), reconcile("RepairsFailed")},
			reconcile("KeysScanned")),
		d.graph("Reconciler index: keys settled without a read and object reads (left), index chunks read, written, rejected (right)",
			[]awscloudwatch.IMetric{reconcile("KeysSettledByIndex"), reconcile("ObjectReads")},
			reconcile("IndexChunksRead"), reconcile("IndexChunksWritten"), reconcile("IndexChunksRejected")),
	}
}

// alarms shows the state of every health alarm (the matrix, by target) and of every
// operational alarm.
func (d dashboardParts) alarms() [][]awscloudwatch.IWidget {
	imported := func(region, name string) interfacesawscloudwatch.IAlarmRef {
		return awscloudwatch.Alarm_FromAlarmArn(d.scope, jsii.String(name), jsii.String(d.n.AlarmArn(region, name)))
	}
	status := func(title string, alarms []interfacesawscloudwatch.IAlarmRef) []awscloudwatch.IWidget {
		return []awscloudwatch.IWidget{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title:  jsii.String(title),
			Alarms: &alarms,
			Width:  jsii.Number(24),
			Height: jsii.Number(4),
		})}
	}
	var health, ops []interfacesawscloudwatch.IAlarmRef
	for _, t := range d.cfg.Regions {
		for _, o := range d.cfg.Observers() {
			if o != t {
				health = append(health, imported(o, d.n.HealthAlarm(t, o, AlarmAvailability)))
			}
		}
	}
	for _, r := range d.cfg.Regions {
		for _, kind := range []string{AlarmDLQNotEmpty, AlarmLatency, AlarmBacklogAge, AlarmReplicatorErrors} {
			ops = append(ops, imported(r, d.n.OpsAlarm(r, kind)))
		}
	}
	for _, dc := range d.cfg.Deciders {
		ops = append(ops, imported(dc, d.n.OpsAlarm(dc, "failover-errors")))
	}
	for _, kind := range []string{"reconciler-errors", AlarmDivergence} {
		ops = append(ops, imported(d.cfg.HomeRegion, d.n.OpsAlarm(d.cfg.HomeRegion, kind)))
	}
	return [][]awscloudwatch.IWidget{
		status("Health: every target (row order) from every observer", health),
		status("Operational alarms, every Region", ops),
	}
}
