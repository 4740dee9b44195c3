package engine

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Event patterns shared by the forwarding rules and the failover and notification rules of
// the deciders.
const (
	alarmSource     = "aws.cloudwatch"
	alarmDetailType = "CloudWatch Alarm State Change"
	healthSource    = "aws.health"
	healthType      = "AWS Health Event"
	commandSource   = "mrap.engine"
	commandType     = "MRAP Routing Command"
)

// engineAlarmPattern matches state changes of the engine's own alarms (health and
// operational) and nothing else in the account.
func engineAlarmPattern(n Names) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(alarmSource),
		DetailType: jsii.Strings(alarmDetailType),
		Detail: &map[string]interface{}{
			"alarmName": []interface{}{
				map[string]interface{}{"prefix": n.AlarmPrefix()},
				map[string]interface{}{"prefix": n.OpsAlarmPrefix()},
			},
		},
	}
}

// s3HealthPattern matches AWS Health events about S3 in the given Regions, whichever Region
// delivered them: AWS sends a public event to the affected Region (detail.eventRegion) and to
// a backup Region.
func s3HealthPattern(regions []string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(healthSource),
		DetailType: jsii.Strings(healthType),
		Detail: &map[string]interface{}{
			"service":     jsii.Strings("S3"),
			"eventRegion": jsii.Strings(regions...),
		},
	}
}

// EventForwarderProps configure the forwarding of one Region's events to the deciders.
type EventForwarderProps struct {
	Names  Names
	Region string
	// Deciders are the Regions whose default bus receives the events; Region itself is left
	// out (its own rules see its events).
	Deciders []string
	// Alarms forwards the engine's alarm state changes (a Region that raises engine alarms).
	Alarms bool
	// HealthAbout, when not empty, forwards AWS Health events for S3 about these Regions (the
	// members), delivered in Region.
	HealthAbout []string
}

// EventForwarder sends one Region's engine alarm state changes and the AWS Health events for S3
// it receives to every other decider's default event bus, where the failover functions and the
// audit topics see them.
type EventForwarder struct {
	constructs.Construct
	Alarms awsevents.Rule // nil without Alarms
	Health awsevents.Rule // nil without HealthAbout
}

// NewEventForwarder creates the forwarding rules; their role may put events on the deciders'
// default buses only. It returns nil when Region has nothing to forward to anyone.
func NewEventForwarder(scope constructs.Construct, id string, p EventForwarderProps) *EventForwarder {
	var targets []string
	for _, d := range p.Deciders {
		if d != p.Region {
			targets = append(targets, d)
		}
	}
	if len(targets) == 0 || (!p.Alarms && len(p.HealthAbout) == 0) {
		return nil
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	buses := make([]awsevents.IRuleTarget, 0, len(targets))
	for _, d := range targets {
		bus := awsevents.EventBus_FromEventBusArn(c, jsii.String("Bus-"+d), jsii.String(p.Names.DefaultBusArn(d)))
		buses = append(buses, awseventstargets.NewEventBus(bus, nil))
	}
	to := strings.Join(targets, ", ")
	f := &EventForwarder{Construct: c}
	if p.Alarms {
		f.Alarms = awsevents.NewRule(c, jsii.String("Alarms"), &awsevents.RuleProps{
			RuleName:     jsii.String(p.Names.Function("forward-alarms", p.Region)),
			Description:  jsii.String("Engine alarm state changes of " + p.Region + " to the deciders " + to),
			EventPattern: engineAlarmPattern(p.Names),
			Targets:      &buses,
		})
	}
	if len(p.HealthAbout) > 0 {
		f.Health = awsevents.NewRule(c, jsii.String("Health"), &awsevents.RuleProps{
			RuleName:     jsii.String(p.Names.Function("forward-health", p.Region)),
			Description:  jsii.String("AWS Health events for S3 about the members, delivered in " + p.Region + ", to the deciders " + to),
			EventPattern: s3HealthPattern(p.HealthAbout),
			Targets:      &buses,
		})
	}
	return f
}
