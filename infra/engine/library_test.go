package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// boundaryArn is the permissions boundary the foreign app's platform team imposes.
const boundaryArn = "arn:aws:iam::123456789012:policy/platform-boundary"

var (
	foreignOnce sync.Once
	foreignB    *built
	foreignOwn  awscdk.Stack
)

// foreignApp is a platform team's own CDK app: it already has a stack of its own (a bucket
// and a role), then adds the engine through typed Props equal to cdk.json's context (another
// account), with its own stack names, tags and permissions boundary, and cdk-nag on the
// engine's stacks only.
func foreignApp(t *testing.T) (*built, awscdk.Stack) {
	t.Helper()
	foreignOnce.Do(func() {
		out, err := os.MkdirTemp(codeDir, "cdk.out-foreign-")
		if err != nil {
			t.Fatal(err)
		}
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
		own := awscdk.NewStack(app, jsii.String("Website"), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")},
		})
		awss3.NewBucket(own, jsii.String("Site"), &awss3.BucketProps{Versioned: jsii.Bool(true), EnforceSSL: jsii.Bool(true)})
		awsiam.NewRole(own, jsii.String("Deployer"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("codebuild.amazonaws.com"), nil)})
		boundary := awsiam.ManagedPolicy_FromManagedPolicyArn(own, jsii.String("Boundary"), jsii.String(boundaryArn))
		e, err := New(app, &Props{
			Account:        "123456789012",
			Regions:        []string{"us-east-1", "us-west-2"},
			WitnessRegions: []string{"us-east-2"},
			LeaseTTL:       new(3 * time.Minute),
			MaxSkew:        new(5 * time.Second),
			AssetDir:       codeDir,
			StackName: func(kind, region string) string {
				return "acme-storage-" + kind + "-" + region
			},
			Tags:                map[string]string{"CostCenter": "42", "Project": "acme-storage"},
			PermissionsBoundary: boundary,
		})
		if err != nil {
			t.Fatalf("New in a foreign app: %v", err)
		}
		for _, s := range e.Stacks() {
			awscdk.Aspects_Of(s).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(false)}), nil)
		}
		foreignB, foreignOwn = synthesize(t, app, out, e), own
	})
	if foreignB == nil {
		t.Fatal("the foreign app did not build")
	}
	return foreignB, foreignOwn
}

// deployedLines renders what an existing deployment is made of: per CloudFormation stack,
// every resource's logical id and type and every output id (CDK's own metadata aside).
func deployedLines(b *built) []string {
	var out []string
	for id, tpl := range b.json {
		name := *b.stacks[id].StackName()
		res, _ := tpl["Resources"].(map[string]any)
		for logical, r := range res {
			if typ := r.(map[string]any)["Type"].(string); typ != "AWS::CDK::Metadata" {
				out = append(out, fmt.Sprintf("%s resource %s %s", name, logical, typ))
			}
		}
		outputs, _ := tpl["Outputs"].(map[string]any)
		for o := range outputs {
			out = append(out, fmt.Sprintf("%s output %s", name, o))
		}
	}
	sort.Strings(out)
	return out
}

// TestExistingDeploymentsKeepTheirStacksAndLogicalIDs compares the default and the richest
// app with what the app synthesized before the constructs became a library
// (testdata/deployed-*.txt, from commit ceafcf8): a stack renamed, a logical id changed or an
// output gone would replace or break what is deployed. New resources are allowed; to record
// a deliberate change, run the test with MRAP_UPDATE_DEPLOYED=1 and say why in the commit.
func TestExistingDeploymentsKeepTheirStacksAndLogicalIDs(t *testing.T) {
	for file, app := range map[string]func(*testing.T) *built{"deployed-default.txt": defaultApp, "deployed-full.txt": fullApp} {
		t.Run(file, func(t *testing.T) {
			got := deployedLines(app(t))
			path := filepath.Join("testdata", file)
			if os.Getenv("MRAP_UPDATE_DEPLOYED") == "1" {
				if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			n := 0
			for sc.Scan() {
				if line := sc.Text(); line != "" {
					n++
					if _, found := slices.BinarySearch(got, line); !found {
						t.Errorf("%s is gone: an existing deployment would lose or replace it", line)
					}
				}
			}
			if err := sc.Err(); err != nil || n == 0 {
				t.Fatalf("read %s: %d lines, %v", path, n, err)
			}
		})
	}
}

func TestEngineInAForeignAppBuildsTheSameStacks(t *testing.T) {
	b, _ := foreignApp(t)
	d := defaultApp(t)
	byID := func(b *built) []string {
		var out []string
		for id, tpl := range b.json {
			for logical, r := range tpl["Resources"].(map[string]any) {
				out = append(out, id+" "+logical+" "+r.(map[string]any)["Type"].(string))
			}
			outputs, _ := tpl["Outputs"].(map[string]any)
			for o := range outputs {
				out = append(out, id+" output "+o)
			}
		}
		sort.Strings(out)
		return out
	}
	if got, want := byID(b), byID(d); !slices.Equal(got, want) {
		t.Errorf("the engine in a foreign app has other resources than the repository's app:\n%s", diffLines(got, want))
	}
	for _, s := range b.engine.Stacks() {
		if name := *s.StackName(); !strings.HasPrefix(name, "acme-storage-") {
			t.Errorf("stack %s is named %s, want the name Props.StackName gave", *s.Node().Path(), name)
		}
	}
}

// diffLines lists the lines only in got (+) or only in want (-).
func diffLines(got, want []string) string {
	var out []string
	for _, l := range got {
		if !slices.Contains(want, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

func TestEngineInAForeignAppLeavesTheAppsOwnStackAlone(t *testing.T) {
	b, own := foreignApp(t)
	tpl := toJSON(t, own)
	for logical, r := range tpl["Resources"].(map[string]any) {
		p := props(r.(map[string]any))
		if tags := asJSON(p["Tags"]); strings.Contains(tags, "MrapName") || strings.Contains(tags, "CostCenter") {
			t.Errorf("the app's own %s carries the engine's tags: %s", logical, tags)
		}
		if p["PermissionsBoundary"] != nil {
			t.Errorf("the app's own %s got the engine's permissions boundary", logical)
		}
	}
	if n := len(b.engine.Stacks()); n != 8 {
		t.Errorf("engine has %d stacks, want 8", n)
	}
	if got := *own.StackName(); got != "Website" {
		t.Errorf("the app's own stack is named %s", got)
	}
}

func TestEngineTagsAndBoundaryReachEveryResource(t *testing.T) {
	b, _ := foreignApp(t)
	taggable := []string{"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::Events::Rule",
		"AWS::IAM::Role", "AWS::SNS::Topic", "AWS::Logs::LogGroup"}
	roles := 0
	for id, tpl := range b.json {
		for _, typ := range taggable {
			for logical, r := range resources(tpl, typ) {
				if strings.HasPrefix(logical, "CustomCrossRegionExport") {
					continue // CDK's own cross-Region reference providers: tagged through the stack's tags
				}
				tags := asJSON(props(r)["Tags"])
				for _, want := range []string{`"Key":"Project","Value":"acme-storage"`, `"Key":"CostCenter","Value":"42"`, `"Key":"ManagedBy","Value":"cdk"`, `"Key":"MrapName","Value":"mrap-engine"`} {
					if !strings.Contains(tags, want) {
						t.Errorf("%s %s (%s) lacks tag %s: %s", id, logical, typ, want, tags)
					}
				}
			}
		}
		for logical, r := range resources(tpl, "AWS::IAM::Role") {
			roles++
			if got := asJSON(props(r)["PermissionsBoundary"]); got != `"`+boundaryArn+`"` {
				t.Errorf("%s role %s has permissions boundary %s, want %s", id, logical, got, boundaryArn)
			}
		}
	}
	for _, s := range b.engine.Stacks() {
		tags := map[string]string{}
		for k, v := range *s.Tags().TagValues() {
			tags[k] = *v
		}
		for k, v := range map[string]string{"Project": "acme-storage", "CostCenter": "42", "ManagedBy": "cdk", "MrapName": "mrap-engine"} {
			if tags[k] != v {
				t.Errorf("stack %s (CloudFormation propagates its tags to every resource) has tag %s=%q, want %q", *s.StackName(), k, tags[k], v)
			}
		}
	}
	if roles < 8 {
		t.Errorf("found %d roles in the engine, want every function's and the custom resources'", roles)
	}
}

func TestNewRefusesBeforeAddingAnything(t *testing.T) {
	base := func() Props {
		return Props{Account: "123456789012", WitnessRegions: []string{"us-east-2"}, AssetDir: codeDir}
	}
	tests := []struct {
		name  string
		props func(p *Props)
		want  []string
	}{
		{"invalid props name the context key", func(p *Props) { p.Regions = []string{"us-east-1"}; p.MinActive = new(0) },
			[]string{"invalid configuration", "regions: a Multi-Region Access Point needs at least 2 member Regions, got 1", "minActive: want 1 to 1, got 0"}},
		{"a rate in fractions of a minute", func(p *Props) { p.ProberRate = new(90 * time.Second) },
			[]string{"proberRateMinutes: want whole minutes, got 1m30s"}},
		{"a negative cooldown", func(p *Props) { p.Cooldown = new(-time.Minute) },
			[]string{"cooldown: want 0 or more, got -1m0s"}},
		{"a stack name CloudFormation refuses", func(p *Props) {
			p.StackName = func(kind, region string) string { return "team_" + kind + "-" + region }
		}, []string{"invalid stack names", `region stack of us-east-1: CloudFormation wants 1 to 128 letters, digits or hyphens starting with a letter, got "team_region-us-east-1"`}},
		{"two stacks of one name", func(p *Props) {
			p.StackName = func(kind, region string) string { return "mrap-" + region }
		}, []string{`control stack of us-east-1: "mrap-us-east-1" already names the region stack of us-east-1`}},
		{"the name tag set by hand", func(p *Props) { p.Tags = map[string]string{"MrapName": "other"} },
			[]string{"invalid tags: MrapName is the engine's own tag (MrapName=mrap-engine: mrapctl --name finds the deployment by it)"}},
		{"binaries missing from the asset directory", func(p *Props) { p.AssetDir = filepath.Join(t.TempDir(), "dist") },
			[]string{"replicator: function binary missing at ", "/dist/replicator/bootstrap: run `make build` in the mrap repository, or CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -o ",
				"github.com/mrap-engine/mrap/functions/failover"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			awscdk.NewStack(app, jsii.String("Own"), nil)
			p := base()
			tt.props(&p)
			_, err := New(app, &p)
			if err == nil {
				t.Fatal("New returned no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q\nwant it to contain %q", err, want)
				}
			}
			if n := len(*app.Node().Children()); n != 1 {
				t.Errorf("the app has %d children after the refusal, want only its own stack", n)
			}
		})
	}
}

func TestASecondEngineGoesIntoAStage(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	p := Props{Account: "123456789012", WitnessRegions: []string{"us-east-2"}, AssetDir: codeDir}
	if _, err := New(app, &p); err != nil {
		t.Fatal(err)
	}
	children := len(*app.Node().Children())
	second := p
	second.Name = "mrap-staging"
	_, err := New(app, &second)
	if err == nil || !strings.Contains(err.Error(), "already holds a construct Region-us-east-1: add a second engine in a Stage of its own") {
		t.Fatalf("second engine in one app: error = %v, want the Stage hint", err)
	}
	if n := len(*app.Node().Children()); n != children {
		t.Errorf("the refused engine left %d children, want %d", n, children)
	}
	e, err := New(awscdk.NewStage(app, jsii.String("Staging"), nil), &second)
	if err != nil {
		t.Fatalf("second engine in a Stage: %v", err)
	}
	if got := *e.Control.StackName(); got != "mrap-staging-control-us-east-1" {
		t.Errorf("staging control stack named %s", got)
	}
}

func TestMissingBinaryIsErrNoCode(t *testing.T) {
	err := Code{Dir: t.TempDir()}.Check("prober")
	if !errors.Is(err, ErrNoCode) {
		t.Errorf("error %v is not ErrNoCode", err)
	}
}

func TestTypedPropsResolveAsTheContextDoes(t *testing.T) {
	fromCtx, err := loadConfig(withWitness(nil))
	if err != nil {
		t.Fatal(err)
	}
	typed, err := Props{WitnessRegions: []string{"us-east-2"}}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%+v", typed), fmt.Sprintf("%+v", fromCtx); got != want {
		t.Errorf("typed defaults resolve to\n%s\nthe context's to\n%s", got, want)
	}
	// Zero where zero is a setting of its own: kept, not replaced by the default.
	c, err := Props{WitnessRegions: []string{"us-east-2"}, MarkerRecordDays: new(0), MaxSkew: new(time.Duration(0)), Cooldown: new(time.Duration(0))}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if c.MarkerRecordDays != 0 || c.MaxSkew != 0 || c.Cooldown != 0 {
		t.Errorf("marker record days, skew, cooldown = %d, %s, %s, want the zeros given", c.MarkerRecordDays, c.MaxSkew, c.Cooldown)
	}
}
