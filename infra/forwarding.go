package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Event patterns shared by the forwarding rules (regional) and the failover and notification
// rules (home Region).
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

// s3HealthPattern matches AWS Health events about S3 in the given Regions.
func s3HealthPattern(regions []string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(healthSource),
		DetailType: jsii.Strings(healthType),
		Region:     jsii.Strings(regions...),
		Detail:     &map[string]interface{}{"service": jsii.Strings("S3")},
	}
}

// AlarmForwarderProps configure the forwarding of one Region's events to the home Region.
type AlarmForwarderProps struct {
	Names      Names
	Region     string
	HomeRegion string
}

// AlarmForwarder sends this Region's engine alarm state changes and S3 AWS Health events to the
// home Region's default event bus, where the failover function and the audit topic see them.
type AlarmForwarder struct {
	constructs.Construct
	Alarms awsevents.Rule
	Health awsevents.Rule
}

// NewAlarmForwarder creates the two forwarding rules; their role may put events on the home
// Region's default bus only.
func NewAlarmForwarder(scope constructs.Construct, id string, p AlarmForwarderProps) *AlarmForwarder {
	c := constructs.NewConstruct(scope, jsii.String(id))
	home := awsevents.EventBus_FromEventBusArn(c, jsii.String("HomeBus"), jsii.String(p.Names.DefaultBusArn(p.HomeRegion)))

	alarms := awsevents.NewRule(c, jsii.String("Alarms"), &awsevents.RuleProps{
		RuleName:     jsii.String(p.Names.Function("forward-alarms", p.Region)),
		Description:  jsii.String("Engine alarm state changes of " + p.Region + " to the home Region " + p.HomeRegion),
		EventPattern: engineAlarmPattern(p.Names),
	})
	alarms.AddTarget(awseventstargets.NewEventBus(home, nil))

	health := awsevents.NewRule(c, jsii.String("Health"), &awsevents.RuleProps{
		RuleName:     jsii.String(p.Names.Function("forward-health", p.Region)),
		Description:  jsii.String("AWS Health events for S3 in " + p.Region + " to the home Region " + p.HomeRegion),
		EventPattern: s3HealthPattern([]string{p.Region}),
	})
	health.AddTarget(awseventstargets.NewEventBus(home, nil))

	return &AlarmForwarder{Construct: c, Alarms: alarms, Health: health}
}
