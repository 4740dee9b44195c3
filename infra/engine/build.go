package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Build reads the configuration from the app's context and adds the engine's stacks; an
// invalid configuration or a missing function binary stops it before any stack is created.
func Build(app awscdk.App, code Code) (*Engine, error) {
	for flag, on := range featureFlags() {
		app.Node().SetContext(jsii.String(flag), on)
	}
	cfg, err := LoadConfig(appContext(app))
	if err != nil {
		return nil, err
	}
	if cfg.PrivateAccess {
		// The private-access VPC takes its zones from Fn::GetAZs at deploy time, but the Vpc
		// construct still reads the stack's zones to validate them, which would be a lookup
		// needing credentials. Answer that lookup here unless real context already does.
		for _, r := range cfg.Regions {
			key := "availability-zones:account=" + cfg.Account + ":region=" + r
			if app.Node().TryGetContext(jsii.String(key)) == nil {
				app.Node().SetContext(jsii.String(key), []string{"resolved-at-deploy-time-1", "resolved-at-deploy-time-2"})
			}
		}
	}
	return NewEngine(app, cfg, code)
}

// featureFlags returns the CDK feature flags the constructs rely on, set here so that tests and
// `cdk synth` build the same templates whatever cdk.json holds.
func featureFlags() map[string]any {
	return map[string]any{
		// Access logs are delivered under a bucket policy, not the LogDeliveryWrite ACL.
		"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
		// Cross-Region references (private access only) protect their producers.
		"@aws-cdk/core:defaultCrossStackReferences": "strong",
	}
}

// appContext reads CDK context from the app.
func appContext(app awscdk.App) ContextLookup {
	return func(key string) (any, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		return v, v != nil
	}
}
