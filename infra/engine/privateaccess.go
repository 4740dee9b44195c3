package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MRAPEndpointService is the PrivateLink service of Multi-Region Access Points; no other
// endpoint type reaches them.
const MRAPEndpointService = "com.amazonaws.s3-global.accesspoint"

// PrivateAccessProps configure the private network path of one Region.
type PrivateAccessProps struct {
	Names  Names
	Region string
	Cidr   string
}

// PrivateAccess is a VPC (isolated subnets, flow logs, no internet path) with an interface
// endpoint for Multi-Region Access Points, reachable on 443 from inside the VPC only. The
// access point policy admits requests through these endpoints (and from the engine's roles).
type PrivateAccess struct {
	constructs.Construct
	Vpc      awsec2.Vpc
	Endpoint awsec2.InterfaceVpcEndpoint
}

// NewPrivateAccess creates the VPC and the endpoint. Availability zones are resolved by
// CloudFormation, not looked up, so synthesis needs no AWS credentials.
func NewPrivateAccess(scope constructs.Construct, id string, p PrivateAccessProps) *PrivateAccess {
	c := constructs.NewConstruct(scope, jsii.String(id))

	vpc := awsec2.NewVpc(c, jsii.String("Vpc"), &awsec2.VpcProps{
		VpcName:     jsii.String(p.Names.Function("private", p.Region)),
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String(p.Cidr)),
		// The first two zones, resolved at deploy time (Fn::GetAZs): AZ names differ per
		// account and Region, and a lookup would need credentials at synthesis.
		AvailabilityZones: &[]*string{
			awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_GetAzs(jsii.String(""))),
			awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_GetAzs(jsii.String(""))),
		},
		NatGateways:                  jsii.Number(0),
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name:       jsii.String("endpoints"),
			SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED,
			CidrMask:   jsii.Number(24),
		}},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"all": {TrafficType: awsec2.FlowLogTrafficType_ALL},
		},
	})

	sg := awsec2.NewSecurityGroup(c, jsii.String("EndpointSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("HTTPS from inside the VPC to the Multi-Region Access Point endpoint"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(p.Cidr)), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from the VPC"), nil)

	endpoint := awsec2.NewInterfaceVpcEndpoint(c, jsii.String("Endpoint"), &awsec2.InterfaceVpcEndpointProps{
		Vpc:               vpc,
		Service:           awsec2.NewInterfaceVpcEndpointService(jsii.String(MRAPEndpointService), jsii.Number(443)),
		PrivateDnsEnabled: jsii.Bool(true),
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		Subnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		Open:              jsii.Bool(false),
	})
	return &PrivateAccess{Construct: c, Vpc: vpc, Endpoint: endpoint}
}
