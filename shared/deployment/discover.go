package deployment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// CloudFormationAPI is the part of *cloudformation.Client discovery calls.
type CloudFormationAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ CloudFormationAPI = (*cloudformation.Client)(nil)

// ToolkitStack is the stack `cdk bootstrap` creates in every Region it prepares.
const ToolkitStack = "CDKToolkit"

// ControlStackName is the name infra gives the control stack of deployment name in home.
func ControlStackName(name, home string) string { return name + "-control-" + home }

// Discover finds deployment name through CloudFormation: its control stack in region (by
// the name infra gives it, else by its MrapName tag), then every other stack its
// settings list, each in its own Region through clients(region). Every stack must exist, be
// in a usable state and carry the outputs of this version.
func Discover(ctx context.Context, clients func(region string) CloudFormationAPI, name, region string) (Deployment, error) {
	control, err := findControl(ctx, clients(region), name, region)
	if err != nil {
		return Deployment{}, err
	}
	d, err := fromControl(control)
	if err != nil {
		return Deployment{}, err
	}
	d.Source = "CloudFormation in " + region
	stacks, err := describeAll(ctx, clients, d.Settings, control)
	if err != nil {
		return Deployment{}, err
	}
	d.Stacks = stacks
	return d, nil
}

// findControl reads the control stack of name in region.
func findControl(ctx context.Context, api CloudFormationAPI, name, region string) (Stack, error) {
	want := ControlStackName(name, region)
	s, err := describe(ctx, api, StackRef{Name: want, Region: region, Role: RoleControl})
	if err == nil || !errors.Is(err, ErrStackNotFound) {
		return s, err
	}
	all, lerr := list(ctx, api)
	if lerr != nil {
		return Stack{}, fmt.Errorf("%w; listing the stacks of %s: %w", err, region, lerr)
	}
	var engine []string
	bootstrapped := false
	for _, st := range all {
		tags := tagMap(st.Tags)
		switch {
		case aws.ToString(st.StackName) == ToolkitStack:
			bootstrapped = true
		case tags[TagName] == "": // not an engine stack (Project may be retagged; MrapName is always set)
		case tags[TagName] == name && output(st, OutputAccessPointArn) != "": // settings missing: outdated
			return stackOf(st, StackRef{Name: aws.ToString(st.StackName), Region: region, Role: RoleControl})
		default:
			engine = append(engine, fmt.Sprintf("%s (%s=%s)", aws.ToString(st.StackName), TagName, tags[TagName]))
		}
	}
	if !bootstrapped && len(engine) == 0 {
		return Stack{}, fmt.Errorf("no stack %s in %s, and no %s stack there: run cdk bootstrap aws://%s/%s, then cdk deploy: %w",
			want, region, ToolkitStack, accountOf(all), region, ErrNotBootstrapped)
	}
	found := "none"
	if len(engine) > 0 {
		found = strings.Join(engine, ", ")
	}
	return Stack{}, fmt.Errorf("no control stack of %q in %s: no stack %s and none tagged %s=%s with output %s (engine stacks there by tag %s: %s; the control stack is in the home Region: pass --region HOME, or --name): %w",
		name, region, want, TagName, name, OutputAccessPointArn, TagName, found, ErrStackNotFound)
}

// describeAll reads every stack of st but control, in parallel, and reports every problem.
func describeAll(ctx context.Context, clients func(string) CloudFormationAPI, st Settings, control Stack) ([]Stack, error) {
	out := make([]Stack, len(st.Stacks))
	errs := make([]error, len(st.Stacks))
	var wg sync.WaitGroup
	for i, ref := range st.Stacks {
		if ref.Name == control.Name && ref.Region == control.Region {
			out[i] = control
			continue
		}
		wg.Go(func() {
			out[i], errs[i] = describe(ctx, clients(ref.Region), ref)
			if errors.Is(errs[i], ErrStackNotFound) {
				errs[i] = explainMissing(ctx, clients(ref.Region), ref, st, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// explainMissing adds to a missing stack's error whether its Region is bootstrapped.
func explainMissing(ctx context.Context, api CloudFormationAPI, ref StackRef, st Settings, err error) error {
	_, terr := describe(ctx, api, StackRef{Name: ToolkitStack, Region: ref.Region})
	if errors.Is(terr, ErrStackNotFound) {
		return fmt.Errorf("stack %s does not exist in %s, which has no %s stack: run cdk bootstrap aws://%s/%s, then cdk deploy --all: %w",
			ref.Name, ref.Region, ToolkitStack, st.Env["MRAP_ACCOUNT_ID"], ref.Region, ErrNotBootstrapped)
	}
	return fmt.Errorf("%w (deploy it with cdk deploy --all)", err)
}

// describe reads one stack by name and checks its state and outputs.
func describe(ctx context.Context, api CloudFormationAPI, ref StackRef) (Stack, error) {
	out, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(ref.Name)})
	if isNotFound(err) || (err == nil && len(out.Stacks) == 0) {
		return Stack{}, fmt.Errorf("stack %s does not exist in %s: %w", ref.Name, ref.Region, ErrStackNotFound)
	}
	if err != nil {
		return Stack{}, fmt.Errorf("describe stack %s in %s: %w", ref.Name, ref.Region, err)
	}
	return stackOf(out.Stacks[0], ref)
}

// stackOf converts a described stack, refusing unusable states and missing outputs.
func stackOf(st cftypes.Stack, ref StackRef) (Stack, error) {
	s := Stack{StackRef: ref, Status: string(st.StackStatus), Outputs: map[string]string{}}
	for _, o := range st.Outputs {
		s.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	if hint := unusable(st.StackStatus); hint != "" {
		return Stack{}, fmt.Errorf("stack %s in %s is %s (%s): %s: %w", ref.Name, ref.Region, st.StackStatus,
			aws.ToString(st.StackStatusReason), strings.ReplaceAll(strings.ReplaceAll(hint, "STACK", ref.Name), "REGION", ref.Region), ErrStackFailed)
	}
	if err := checkOutputs(s); err != nil {
		return Stack{}, err
	}
	return s, nil
}

// unusable says what to do about a stack whose state leaves its outputs unusable, or "".
func unusable(status cftypes.StackStatus) string {
	events := "see why with aws cloudformation describe-stack-events --stack-name STACK --region REGION"
	switch status {
	case cftypes.StackStatusCreateInProgress, cftypes.StackStatusReviewInProgress, cftypes.StackStatusImportInProgress:
		return "it is still being created: wait for cdk deploy to finish"
	case cftypes.StackStatusCreateFailed, cftypes.StackStatusRollbackInProgress, cftypes.StackStatusRollbackComplete, cftypes.StackStatusRollbackFailed:
		return "its first deployment failed: " + events + ", delete it (aws cloudformation delete-stack --stack-name STACK --region REGION) and run cdk deploy again"
	case cftypes.StackStatusUpdateRollbackFailed, cftypes.StackStatusImportRollbackFailed:
		return "a rollback failed: " + events + ", then aws cloudformation continue-update-rollback --stack-name STACK --region REGION"
	case cftypes.StackStatusDeleteInProgress, cftypes.StackStatusDeleteComplete, cftypes.StackStatusDeleteFailed:
		return "it is being deleted: deploy it again with cdk deploy"
	}
	return ""
}

// list reads every stack of the Region (all pages).
func list(ctx context.Context, api CloudFormationAPI) ([]cftypes.Stack, error) {
	var out []cftypes.Stack
	p := cloudformation.NewDescribeStacksPaginator(api, &cloudformation.DescribeStacksInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Stacks...)
	}
	return out, nil
}

// isNotFound reports CloudFormation's answer for a stack name that does not exist: a 400
// ValidationError "Stack with id NAME does not exist".
func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist")
}

func tagMap(tags []cftypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func output(st cftypes.Stack, key string) string {
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == key {
			return aws.ToString(o.OutputValue)
		}
	}
	return ""
}

// accountOf is the account of the stacks listed (from a stack id), or ACCOUNT.
func accountOf(stacks []cftypes.Stack) string {
	for _, st := range stacks {
		if a, err := arn.Parse(aws.ToString(st.StackId)); err == nil && a.AccountID != "" {
			return a.AccountID
		}
	}
	return "ACCOUNT"
}
