package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AccessPointProps configure the Multi-Region Access Point.
type AccessPointProps struct {
	Config Config
	// PrivateEndpoints are the interface VPC endpoint ids (com.amazonaws.s3-global.accesspoint)
	// that alone may reach the access point; empty means no network restriction.
	PrivateEndpoints []string
	// EngineRoles are the role ARNs of the engine's own functions, admitted from anywhere.
	EngineRoles []string
}

// AccessPoint is the Multi-Region Access Point over the member buckets (named
// deterministically, so no cross-Region reference is needed) and its policy.
type AccessPoint struct {
	constructs.Construct
	Resource awss3.CfnMultiRegionAccessPoint
	Policy   awss3.CfnMultiRegionAccessPointPolicy
	Alias    string // token until deploy
	Arn      string // arn:aws:s3::ACCOUNT:accesspoint/ALIAS
}

// NewAccessPoint creates the access point with all public access blocked, and its policy:
// the account's principals may use the data plane; with private endpoints, every request
// that arrives neither through them nor from an engine role is denied.
func NewAccessPoint(scope constructs.Construct, id string, p AccessPointProps) *AccessPoint {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()

	regions := make([]interface{}, 0, len(cfg.Regions))
	for _, m := range cfg.Members() {
		regions = append(regions, &awss3.CfnMultiRegionAccessPoint_RegionProperty{
			Bucket:          jsii.String(m.Bucket),
			BucketAccountId: jsii.String(cfg.Account),
		})
	}
	mrap := awss3.NewCfnMultiRegionAccessPoint(c, jsii.String("Resource"), &awss3.CfnMultiRegionAccessPointProps{
		Name:    jsii.String(cfg.Name),
		Regions: &regions,
		PublicAccessBlockConfiguration: &awss3.CfnMultiRegionAccessPoint_PublicAccessBlockConfigurationProperty{
			BlockPublicAcls:       jsii.Bool(true),
			BlockPublicPolicy:     jsii.Bool(true),
			IgnorePublicAcls:      jsii.Bool(true),
			RestrictPublicBuckets: jsii.Bool(true),
		},
	})
	alias := *mrap.AttrAlias()
	arn := n.MRAPArn(alias)

	policy := awss3.NewCfnMultiRegionAccessPointPolicy(c, jsii.String("Policy"), &awss3.CfnMultiRegionAccessPointPolicyProps{
		MrapName: mrap.Ref(),
		Policy:   accessPointPolicy(cfg.Account, arn, p.PrivateEndpoints, p.EngineRoles),
	})
	// CloudFormation cannot delete an access point policy; say so instead of failing.
	policy.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)

	return &AccessPoint{Construct: c, Resource: mrap, Policy: policy, Alias: alias, Arn: arn}
}

// accessPointDataActions returns the object and listing actions the account may use through
// the global endpoint.
func accessPointDataActions() []string {
	return []string{
		"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectAttributes",
		"s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion",
		"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:ListBucket", "s3:ListBucketVersions",
	}
}

// accessPointPolicy is the policy document of the access point.
func accessPointPolicy(account, arn string, endpoints, engineRoles []string) map[string]interface{} {
	resources := []string{arn, arn + "/object/*"}
	statements := []interface{}{
		map[string]interface{}{
			"Sid":       "AccountDataAccess",
			"Effect":    "Allow",
			"Principal": map[string]interface{}{"AWS": "arn:aws:iam::" + account + ":root"},
			"Action":    accessPointDataActions(),
			"Resource":  resources,
		},
	}
	if len(endpoints) > 0 {
		statements = append(statements, map[string]interface{}{
			"Sid":       "OnlyThroughPrivateEndpoints",
			"Effect":    "Deny",
			"Principal": "*",
			"Action":    accessPointDataActions(),
			"Resource":  resources,
			"Condition": map[string]interface{}{
				"StringNotEquals": map[string]interface{}{"aws:SourceVpce": endpoints},
				"ArnNotEquals":    map[string]interface{}{"aws:PrincipalArn": engineRoles},
			},
		})
	}
	return map[string]interface{}{"Version": "2012-10-17", "Statement": statements}
}
