package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AuditProps configure the audit topic.
type AuditProps struct {
	Names Names
}

// Audit is the encrypted SNS topic that receives the failover function's routing change
// notifications and every state change of the engine's alarms in every Region.
type Audit struct {
	constructs.Construct
	Topic awssns.Topic
	Key   awskms.Key
	Rule  awsevents.Rule
}

// NewAudit creates the topic, its key (usable by EventBridge for delivery) and the rule that
// sends engine alarm state changes to it.
func NewAudit(scope constructs.Construct, id string, p AuditProps) *Audit {
	c := constructs.NewConstruct(scope, jsii.String(id))

	key := awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
		Alias:             jsii.String("alias/" + p.Names.Name + "-audit"),
		Description:       jsii.String("Encrypts the audit topic of " + p.Names.Name),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	// EventBridge publishes alarm notifications to the encrypted topic.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EventBridgePublishesToAuditTopic"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": p.Names.Account},
		},
	}), nil)

	topic := awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		TopicName:   jsii.String(p.Names.Name + "-audit"),
		DisplayName: jsii.String("MRAP engine " + p.Names.Name + ": routing changes and alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})

	rule := awsevents.NewRule(c, jsii.String("AlarmNotifications"), &awsevents.RuleProps{
		RuleName:     jsii.String(p.Names.Name + "-notify-alarms"),
		Description:  jsii.String("State changes of the engine's alarms in every Region to the audit topic"),
		EventPattern: engineAlarmPattern(p.Names),
	})
	rule.AddTarget(awseventstargets.NewSnsTopic(topic, nil))

	return &Audit{Construct: c, Topic: topic, Key: key, Rule: rule}
}
