package engine

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// metricSource builds the engine's metrics by name, so the regional alarms and the
// cross-Region dashboard watch exactly the same series. Region is empty inside the Region's
// own stack and set on the dashboard.
type metricSource struct {
	names  Names
	region string // metric Region; "" means the stack's own
	of     string // the member Region the metric is about
}

func (m metricSource) metric(namespace, name, stat string, dims map[string]string) awscloudwatch.Metric {
	d := map[string]*string{}
	for k, v := range dims {
		d[k] = jsii.String(v)
	}
	props := &awscloudwatch.MetricProps{
		Namespace:     jsii.String(namespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &d,
		Statistic:     jsii.String(stat),
		Period:        awscdk.Duration_Minutes(jsii.Number(1)),
	}
	if m.region != "" {
		// Dashboard metrics name their Region; alarm metrics stay in the plain form.
		props.Region = jsii.String(m.region)
		props.Label = jsii.String(m.of)
	}
	return awscloudwatch.NewMetric(props)
}

// observedAvailability is the availability (0..1) of m.of over path (regional or global) as
// observer's prober sees it; the global path has Region "global".
func (m metricSource) observedAvailability(observer, path string) awscloudwatch.Metric {
	return m.metric(MetricNamespace, "CanaryAvailability", "Average", map[string]string{"Region": m.of, "Observer": observer, "Path": path})
}

// observedLatency is the canary round-trip latency (p90, ms) of m.of as observer sees it.
func (m metricSource) observedLatency(observer, path string) awscloudwatch.Metric {
	return m.metric(MetricNamespace, "CanaryLatency", "p90", map[string]string{"Region": m.of, "Observer": observer, "Path": path})
}

// replicationLatency is the replicator's event-to-copy latency in milliseconds (p90).
func (m metricSource) replicationLatency(stat string) awscloudwatch.Metric {
	return m.metric(MetricNamespace, "ReplicationLatency", stat, map[string]string{"Region": m.of})
}

// replicated and failed count the replicator's outcomes.
func (m metricSource) replicated() awscloudwatch.Metric {
	return m.metric(MetricNamespace, "Replicated", "Sum", map[string]string{"Region": m.of})
}

func (m metricSource) failed() awscloudwatch.Metric {
	return m.metric(MetricNamespace, "Failed", "Sum", map[string]string{"Region": m.of})
}

// queue metrics of the replication queue (or its dead-letter queue).
func (m metricSource) queue(queueName, metric, stat string) awscloudwatch.Metric {
	return m.metric("AWS/SQS", metric, stat, map[string]string{"QueueName": queueName})
}

// lambda metrics of one of the engine's functions.
func (m metricSource) lambda(functionName, metric, stat string) awscloudwatch.Metric {
	return m.metric("AWS/Lambda", metric, stat, map[string]string{"FunctionName": functionName})
}

// replicatorErrors adds the replicator's invocation errors and its per-record failures.
func (m metricSource) replicatorErrors() awscloudwatch.MathExpression {
	// Ids are unique per Region: the dashboard shows every Region's expression in one graph.
	id := strings.ReplaceAll(m.of, "-", "_")
	props := &awscloudwatch.MathExpressionProps{
		Expression: jsii.String("FILL(errors_" + id + ", 0) + FILL(failed_" + id + ", 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"errors_" + id: m.lambda(m.names.Function("replicator", m.of), "Errors", "Sum"),
			"failed_" + id: m.failed(),
		},
		Label:  jsii.String(m.of),
		Period: awscdk.Duration_Minutes(jsii.Number(1)),
	}
	if m.region != "" {
		props.SearchRegion = jsii.String(m.region)
	}
	return awscloudwatch.NewMathExpression(props)
}

// labelled returns metric with a legend label (dashboard only).
func (m metricSource) labelled(metric awscloudwatch.Metric, label string) awscloudwatch.IMetric {
	return metric.With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
}
