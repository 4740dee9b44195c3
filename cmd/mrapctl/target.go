package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/failover"
)

// targetFlags find a deployment on AWS the way the AWS CLI finds things: by name (the
// stacks' MrapName tag) through CloudFormation in --region, or from a cdk outputs file, with
// the profile's credentials.
type targetFlags struct {
	name, outputs, profile, region *string
}

// flagAdder is the part of *flag.FlagSet that adds flags.
type flagAdder interface {
	String(string, string, string) *string
	Bool(string, bool, string) *bool
}

func addTargetFlags(fs flagAdder) targetFlags {
	return targetFlags{
		name:    fs.String("name", "", "AWS: the deployment to act on (CDK context name; its stacks are tagged MrapName=NAME), found through CloudFormation in --region"),
		outputs: fs.String("outputs", "", "AWS: the file cdk deploy --outputs-file wrote, instead of CloudFormation (with --name when it holds several deployments)"),
		profile: fs.String("profile", "", "AWS: the named profile of the shared config and credentials files (default AWS_PROFILE)"),
		region:  fs.String("region", "", "AWS: the Region to look the stacks up in, the home Region of the control stack (default AWS_REGION or the profile's)"),
	}
}

// discovers reports whether the deployment is to be found (--name or --outputs).
func (tf targetFlags) discovers() bool { return *tf.name != "" || *tf.outputs != "" }

// globalFlags may come before the command, as with the AWS CLI (mrapctl --name N status).
var globalFlags = map[string]bool{"name": true, "outputs": true, "profile": true, "region": true}

// hoist moves leading global flags behind the command: ("--name", "x", "status") becomes
// "status" with ("--name", "x"). ok is false when something else precedes the command.
func hoist(args []string) (cmd string, rest []string, ok bool) {
	var lead []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		k, _, inline := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		switch {
		case !globalFlags[k]:
			return "", nil, false
		case inline:
			lead, args = append(lead, args[0]), args[1:]
		case len(args) < 2:
			return "", nil, false
		default:
			lead, args = append(lead, args[0], args[1]), args[2:]
		}
	}
	if len(args) == 0 {
		return "", nil, false
	}
	return args[0], append(lead, args[1:]...), true
}

// loadAWS loads the SDK configuration through the default chain (environment, profile,
// SSO, instance roles), with --profile and --region laid over it.
func (tf targetFlags) loadAWS(ctx context.Context) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if *tf.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(*tf.profile))
	}
	if *tf.region != "" {
		opts = append(opts, awsconfig.WithRegion(*tf.region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration (profile, credentials): %w", err)
	}
	if *tf.name != "" && *tf.outputs == "" && cfg.Region == "" { // said before the credentials: the first thing to fix
		return aws.Config{}, errNoRegion
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("no AWS credentials (looked in the environment, the profile of --profile or AWS_PROFILE, SSO and the instance role; aws configure or aws sso login sets them up): %w", err)
	}
	return cfg, nil
}

var errNoRegion = errors.New("no Region to look the stacks up in: pass --region (the home Region), or set AWS_REGION or a region in the profile")

// discover finds the deployment: in the outputs file, else through CloudFormation in the
// configuration's Region.
func (tf targetFlags) discover(ctx context.Context, cfg aws.Config) (deployment.Deployment, error) {
	if *tf.outputs != "" {
		return deployment.FromOutputsFile(*tf.outputs, *tf.name)
	}
	if cfg.Region == "" {
		return deployment.Deployment{}, errNoRegion
	}
	clients := func(region string) deployment.CloudFormationAPI {
		return cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.Region = region })
	}
	return deployment.Discover(ctx, clients, *tf.name, cfg.Region)
}

// awsTarget is an engine deployment on AWS: the failover function's settings (discovered or
// from the environment) and the SDK configuration to reach it.
type awsTarget struct {
	cfg     aws.Config
	dep     *deployment.Deployment // nil when the settings come from the environment (--mrap-arn)
	lookup  func(string) (string, bool)
	home    string
	decider string
}

// openAWS resolves the target of an AWS command: discovered with --name/--outputs, else the
// failover function's MRAP_* environment with --mrap-arn.
func openAWS(ctx context.Context, af awsFlags) (*awsTarget, error) {
	if *af.arn != "" && af.discovers() {
		return nil, errors.New("--mrap-arn takes its settings from the environment; --name and --outputs find them: give one or the other")
	}
	if a, err := arn.Parse(*af.arn); *af.arn != "" && (err != nil || !strings.HasPrefix(a.Resource, "accesspoint/")) {
		return nil, fmt.Errorf("--mrap-arn %q is not arn:aws:s3::ACCOUNT:accesspoint/ALIAS", *af.arn)
	}
	cfg, err := af.loadAWS(ctx)
	if err != nil {
		return nil, err
	}
	if !af.discovers() {
		env := config.New(af.lookup)
		home := env.String("AWS_REGION", env.String("AWS_DEFAULT_REGION", cfg.Region))
		return &awsTarget{cfg: cfg, lookup: af.lookup, home: home, decider: env.String("MRAP_DECIDER", home)}, nil
	}
	dep, err := af.discover(ctx, cfg)
	if err != nil {
		return nil, err
	}
	decider, err := pickDecider(dep.Deciders(), *af.decider, cfg.Region)
	if err != nil {
		return nil, err
	}
	env := dep.Env(decider)
	if *af.dryRun {
		env["MRAP_DRY_RUN"] = "true"
	}
	if v := os.Getenv("MRAP_CONTROL_ENDPOINT"); v != "" { // the local routes API, a proxy
		env["MRAP_CONTROL_ENDPOINT"] = v
	}
	if cfg.Region == "" {
		cfg.Region = dep.Settings.Home
	}
	return &awsTarget{cfg: cfg, dep: &dep, lookup: mapLookup(env), home: dep.Settings.Home, decider: decider}, nil
}

// pickDecider is the decider this run acts as: --decider, else the lookup Region when it is
// a decider, else the first (the primary by order).
func pickDecider(deciders []string, flag, region string) (string, error) {
	switch {
	case len(deciders) == 0:
		return "", fmt.Errorf("the settings list no decider (MRAP_DECIDERS): %w", deployment.ErrOutdated)
	case flag != "" && !slices.Contains(deciders, flag):
		return "", fmt.Errorf("--decider %s is not one of the deciders %s", flag, strings.Join(deciders, ", "))
	case flag != "":
		return flag, nil
	case slices.Contains(deciders, region):
		return region, nil
	}
	return deciders[0], nil
}

// failoverConfig loads the failover function's configuration of the target with the
// function's own loader.
func (t *awsTarget) failoverConfig() (failover.Config, error) {
	env := config.New(t.lookup)
	cfg := failover.LoadConfig(env, t.decider)
	if err := env.Err(); err != nil {
		if t.dep != nil {
			return failover.Config{}, fmt.Errorf("the settings of deployment %s (%s): %w", t.dep.Settings.Name, t.dep.Source, err)
		}
		return failover.Config{}, fmt.Errorf("AWS mode reads the failover function's settings from the environment (docs/contracts.md), or pass --name:\n%w", err)
	}
	return cfg, nil
}

// openAWSReaders opens the target of an AWS command with the failover function's
// configuration and the adapters the function reads through (routes, health, state copies).
func openAWSReaders(ctx context.Context, af awsFlags) (*awsTarget, failover.Config, failover.AWSReaders, error) {
	t, err := openAWS(ctx, af)
	if err != nil {
		return nil, failover.Config{}, failover.AWSReaders{}, err
	}
	cfg, err := t.failoverConfig()
	if err != nil {
		return nil, failover.Config{}, failover.AWSReaders{}, err
	}
	readers, err := failover.NewAWSReaders(cfg, t.cfg, nil)
	if err != nil {
		return nil, failover.Config{}, failover.AWSReaders{}, err
	}
	return t, cfg, readers, nil
}

// mapLookup looks keys up in m, as os.LookupEnv does in the environment.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}
