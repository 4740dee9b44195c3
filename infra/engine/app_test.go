package engine

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

var (
	defaultOnce sync.Once
	defaultB    *built
	fiveOnce    sync.Once
	fiveB       *built
)

// defaultApp is the app with cdk.json's context as it ships: two Regions.
func defaultApp(t *testing.T) *built {
	t.Helper()
	defaultOnce.Do(func() {
		raw, err := os.ReadFile("../../cdk.json")
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Context map[string]any `json:"context"`
		}
		if err := json.Unmarshal(raw, &file); err != nil {
			t.Fatal(err)
		}
		defaultB = build(t, file.Context)
	})
	if defaultB == nil {
		t.Fatal("the default app did not build")
	}
	return defaultB
}

// fiveRegionApp spans the five routes-API Regions.
func fiveRegionApp(t *testing.T) *built {
	t.Helper()
	fiveOnce.Do(func() {
		fiveB = build(t, map[string]any{
			"account":    "123456789012",
			"regions":    strings.Join(RoutesAPIRegions(), ","),
			"homeRegion": "us-west-2",
			"failback":   "true",
			"dryRun":     "true",
			// Not the defaults: the divergence alarm follows the reconcile rate; 0 keeps
			// delete-marker records.
			"reconcileRateMinutes": "120",
			"markerRecordDays":     "0",
		})
	})
	if fiveB == nil {
		t.Fatal("the five-Region app did not build")
	}
	return fiveB
}

// apps are the synthesized configurations every cross-cutting check runs over.
func apps(t *testing.T) map[string]*built {
	foreign, _ := foreignApp(t)
	return map[string]*built{"2 Regions (cdk.json)": defaultApp(t), "3 Regions, KMS, private": fullApp(t), "5 Regions": fiveRegionApp(t),
		"in a foreign app, typed props": foreign}
}

func TestSynthesizesEachRegionCount(t *testing.T) {
	tests := []struct {
		name     string
		app      func(*testing.T) *built
		regions  int
		home     string
		stacks   []string // every stack id, in deploy order
		deciders []string
	}{
		{"2 Regions and a witness (cdk.json)", defaultApp, 2, "us-east-1",
			[]string{"Region-us-east-1", "Region-us-west-2", "Control", "Probe-us-east-1", "Probe-us-west-2", "Witness-us-east-2",
				"Decider-us-east-1", "Decider-us-west-2"},
			[]string{"us-east-1", "us-west-2"}},
		{"3 Regions, a witness, a decider outside the members, a backup Region", fullApp, 3, "eu-west-1",
			[]string{"Region-eu-west-1", "Region-us-east-1", "Region-eu-central-1", "Control",
				"Probe-eu-west-1", "Probe-us-east-1", "Probe-eu-central-1", "Witness-us-east-2",
				"Decider-eu-west-1", "Decider-ap-northeast-1", "Relay-us-west-2"},
			[]string{"eu-west-1", "ap-northeast-1"}},
		{"5 Regions", fiveRegionApp, 5, "us-west-2",
			[]string{"Region-us-east-1", "Region-us-west-2", "Region-ap-southeast-2", "Region-ap-northeast-1", "Region-eu-west-1", "Control",
				"Probe-us-east-1", "Probe-us-west-2", "Probe-ap-southeast-2", "Probe-ap-northeast-1", "Probe-eu-west-1",
				"Decider-us-east-1", "Decider-us-west-2"},
			[]string{"us-east-1", "us-west-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.app(t)
			var got []string
			for _, s := range b.engine.Stacks() {
				got = append(got, *s.Node().Id())
			}
			if !slices.Equal(got, tt.stacks) {
				t.Errorf("stacks = %v\nwant %v", got, tt.stacks)
			}
			if got := *b.engine.Control.Region(); got != tt.home {
				t.Errorf("control stack in %s, want %s", got, tt.home)
			}
			for r, s := range b.engine.Regional {
				if *s.Region() != r || *b.engine.Probes[r].Region() != r {
					t.Errorf("stacks of %s deploy to %s and %s", r, *s.Region(), *b.engine.Probes[r].Region())
				}
			}
			for r, s := range b.engine.Deciders {
				if *s.Region() != r {
					t.Errorf("decider stack of %s deploys to %s", r, *s.Region())
				}
			}
			if !slices.Equal(b.cfg.Deciders, tt.deciders) {
				t.Errorf("deciders = %v, want %v", b.cfg.Deciders, tt.deciders)
			}
			for _, mrap := range resources(b.json["Control"], "AWS::S3::MultiRegionAccessPoint") {
				if got := len(props(mrap)["Regions"].([]any)); got != tt.regions {
					t.Errorf("access point has %d Regions, want %d", got, tt.regions)
				}
			}
			// Deploy order: regional stacks, then control, then observers, then deciders.
			for _, r := range b.cfg.Regions {
				if !dependsOn(b.engine.Control.Stack, b.engine.Regional[r].Stack) {
					t.Errorf("control stack does not wait for the %s stack", r)
				}
			}
			for _, o := range b.cfg.Observers() {
				if !dependsOn(b.engine.Probes[o].Stack, b.engine.Control.Stack) {
					t.Errorf("observer stack of %s does not wait for the control stack", o)
				}
				for _, d := range b.cfg.Deciders {
					if !dependsOn(b.engine.Deciders[d].Stack, b.engine.Probes[o].Stack) {
						t.Errorf("decider %s does not wait for observer %s (its alarms and state copy)", d, o)
					}
				}
			}
			for _, d := range b.cfg.Deciders {
				if !dependsOn(b.engine.Deciders[d].Stack, b.engine.Control.Stack) {
					t.Errorf("decider %s does not wait for the control stack (the access point)", d)
				}
			}
		})
	}
}

func dependsOn(s, on awscdk.Stack) bool {
	for _, d := range *s.Dependencies() {
		if *d.Node().Path() == *on.Node().Path() {
			return true
		}
	}
	return false
}

func TestFiveRegionFailoverSettings(t *testing.T) {
	b := fiveRegionApp(t)
	must(t, "failback and dry run reach the function", func() {
		b.tpl["Decider-us-west-2"].HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"FunctionName": "mrap-engine-failover-us-west-2",
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				"MRAP_FAILBACK": "true", "MRAP_DRY_RUN": "true", "MRAP_ROUTING_MODE": "active-active",
			})},
		})
	})
}

func TestCdkNagAwsSolutionsHasNoUnsuppressedFindings(t *testing.T) {
	for name, b := range apps(t) {
		for id, s := range b.stacks {
			a := assertions.Annotations_FromStack(s)
			must(t, name+" "+id+" errors", func() { a.HasNoError(jsii.String("*"), assertions.Match_AnyValue()) })
			must(t, name+" "+id+" warnings", func() { a.HasNoWarning(jsii.String("*"), assertions.Match_AnyValue()) })
		}
	}
}

func TestEverySuppressionHasAReason(t *testing.T) {
	for name, b := range apps(t) {
		for id, tpl := range b.json {
			for logical, r := range tpl["Resources"].(map[string]any) {
				md, _ := r.(map[string]any)["Metadata"].(map[string]any)
				nag, _ := md["cdk_nag"].(map[string]any)
				rules, _ := nag["rules_to_suppress"].([]any)
				for _, rule := range rules {
					reason, _ := rule.(map[string]any)["reason"].(string)
					if len(reason) < 40 {
						t.Errorf("%s %s %s: suppression %v has no real reason", name, id, logical, rule)
					}
				}
			}
		}
	}
}

// TestIAMHasNoWildcardActionOrResource checks every identity policy: no "*" action, no service
// wildcard action, and no bare "*" resource.
func TestIAMHasNoWildcardActionOrResource(t *testing.T) {
	for name, b := range apps(t) {
		for id, tpl := range b.json {
			for policy, stmts := range policyStatements(tpl) {
				for _, s := range stmts {
					for _, a := range strs(s["Action"]) {
						if a == "*" || strings.HasSuffix(a, ":*") {
							t.Errorf("%s %s %s: wildcard action %q", name, id, policy, a)
						}
					}
					for _, r := range strs(s["Resource"]) {
						if r == "*" {
							t.Errorf("%s %s %s: statement %v on every resource", name, id, policy, s["Action"])
						}
					}
				}
			}
			for role, r := range resources(tpl, "AWS::IAM::Role") {
				if m := props(r)["ManagedPolicyArns"]; m != nil && strings.Contains(asJSON(m), "FullAccess") {
					t.Errorf("%s %s %s: managed full-access policy %s", name, id, role, asJSON(m))
				}
			}
		}
	}
}

func TestEverythingIsTagged(t *testing.T) {
	taggable := []string{"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::Events::Rule",
		"AWS::IAM::Role", "AWS::KMS::Key", "AWS::SNS::Topic", "AWS::Logs::LogGroup", "AWS::EC2::VPC"}
	b := fullApp(t)
	for id, tpl := range b.json {
		for _, typ := range taggable {
			for logical, r := range resources(tpl, typ) {
				if strings.HasPrefix(logical, "CustomCrossRegionExport") {
					continue // CDK's own cross-Region reference providers take no tags
				}
				tags := asJSON(props(r)["Tags"])
				if !strings.Contains(tags, `"Key":"Project","Value":"mrap-engine"`) || !strings.Contains(tags, `"Key":"MrapName","Value":"mrap-engine"`) {
					t.Errorf("%s %s (%s) is not tagged: %s", id, logical, typ, tags)
				}
			}
		}
	}
}

func TestBuildStopsOnInvalidConfiguration(t *testing.T) {
	// The configurations the issue names, through the same path as `cdk synth`.
	for _, tt := range invalidConfigs[:4] {
		t.Run(tt.name, func(t *testing.T) {
			ctx := map[string]interface{}{}
			for k, v := range tt.ctx {
				ctx[k] = v
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
			_, err := fromContext(app, codeDir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if n := len(*app.Node().Children()); n != 0 {
				t.Errorf("the app has %d children after an invalid configuration, want none", n)
			}
		})
	}
}

func TestBuildNeedsTheFunctionBinaries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/replicator", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/replicator/bootstrap", []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, batchRepair := range []string{"true", "false"} {
		t.Run("batchRepair="+batchRepair, func(t *testing.T) {
			ctx := map[string]interface{}{CtxBatchRepair: batchRepair, CtxWitnessRegions: "us-east-2"}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
			_, err := fromContext(app, dir)
			if err == nil || !strings.Contains(err.Error(), "make build") {
				t.Fatalf("error = %v, want one that says to run make build", err)
			}
			for _, fn := range Functions() {
				want := fn != "replicator" && (fn != "batch" || batchRepair == "true")
				if named := strings.Contains(err.Error(), fn+":"); named != want {
					t.Errorf("error %q: naming %s is %v, want %v", err, fn, named, want)
				}
			}
			if n := len(*app.Node().Children()); n != 0 {
				t.Errorf("the app has %d children after a missing binary, want none", n)
			}
		})
	}
}

func TestBuildWithoutBatchRepairNeedsNoBatchBinary(t *testing.T) {
	dir := t.TempDir()
	for _, fn := range Functions() {
		if fn == "batch" {
			continue
		}
		if err := os.MkdirAll(dir+"/"+fn, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/"+fn+"/bootstrap", []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx := map[string]interface{}{CtxBatchRepair: "false", CtxWitnessRegions: "us-east-2"}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
	e, err := fromContext(app, dir)
	if err != nil {
		t.Fatalf("build without the batch binary and batch repair off: %v", err)
	}
	for r, s := range e.Regional {
		if s.Batch != nil {
			t.Errorf("%s has a batch repair path with batchRepair false", r)
		}
	}
}
