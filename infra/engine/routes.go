package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Route is one entry of SubmitMultiRegionAccessPointRoutes.
type Route struct {
	Bucket                string
	Region                string
	TrafficDialPercentage int
}

// InitialRoutesFor returns the routes a mode starts with: every Region at 100 in
// active-active; the first Region of priority at 100 and the others at 0 in active-passive.
func InitialRoutesFor(cfg Config) []Route {
	n := cfg.Names()
	out := make([]Route, 0, len(cfg.Priority))
	for i, r := range cfg.Priority {
		dial := 100
		if cfg.Mode == ModeActivePassive && i > 0 {
			dial = 0
		}
		out = append(out, Route{Bucket: n.Bucket(r), Region: r, TrafficDialPercentage: dial})
	}
	return out
}

// InitialRoutesProps configure the initial routes.
type InitialRoutesProps struct {
	Config  Config
	MRAPArn string
}

// InitialRoutes sets the routes of the configured mode when the access point is created, and
// again only when the mode, the priority or the access point itself changes: a redeploy
// with the same configuration leaves the failover function's routing alone.
type InitialRoutes struct {
	constructs.Construct
	Resource customresources.AwsCustomResource
}

// NewInitialRoutes creates the custom resource that calls SubmitMultiRegionAccessPointRoutes
// in the home Region (one of the routes-API Regions), allowed on this access point only.
func NewInitialRoutes(scope constructs.Construct, id string, p InitialRoutesProps) *InitialRoutes {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()

	updates := []interface{}{}
	for _, r := range InitialRoutesFor(cfg) {
		updates = append(updates, map[string]interface{}{
			"Bucket":                jsii.String(r.Bucket),
			"Region":                jsii.String(r.Region),
			"TrafficDialPercentage": jsii.Number(r.TrafficDialPercentage),
		})
	}
	call := &customresources.AwsSdkCall{
		Service: jsii.String("S3Control"),
		Action:  jsii.String("SubmitMultiRegionAccessPointRoutes"),
		Region:  jsii.String(cfg.HomeRegion),
		Parameters: map[string]interface{}{
			"AccountId":    jsii.String(cfg.Account),
			"Mrap":         jsii.String(p.MRAPArn),
			"RouteUpdates": updates,
		},
		PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String(cfg.Name + "-initial-routes")),
	}

	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	logs.Node().DefaultChild().(awslogs.CfnLogGroup).AddPropertyOverride(jsii.String("RetentionInDays"), float64(cfg.LogRetentionDays))
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String("Sets the initial routes of " + n.Name),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	role.AddToPolicy(statement("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{*logs.LogGroupArn()}))

	cr := customresources.NewAwsCustomResource(c, jsii.String("Resource"), &customresources.AwsCustomResourceProps{
		OnCreate:            call,
		OnUpdate:            call,
		Policy:              customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{statement("SubmitRoutesOfThisAccessPoint", []string{"s3:SubmitMultiRegionAccessPointRoutes"}, []string{p.MRAPArn})}),
		Role:                role,
		LogGroup:            logs,
		InstallLatestAwsSdk: jsii.Bool(false),
		Timeout:             awscdk.Duration_Minutes(jsii.Number(2)),
	})
	return &InitialRoutes{Construct: c, Resource: cr}
}
