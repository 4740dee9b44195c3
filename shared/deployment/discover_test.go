package deployment_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/deployment/deploymenttest"
)

const (
	account = "123456789012"
	apARN   = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
)

// fixture is a deployment of three members, two deciders and a witness on a wire
// CloudFormation, and the real SDK clients pointed at it, one per Region.
func fixture(t *testing.T) (*deploymenttest.CloudFormation, deployment.Settings, func(string) deployment.CloudFormationAPI) {
	t.Helper()
	cf := &deploymenttest.CloudFormation{Account: account, PageSize: 2}
	st := deploymenttest.Settings("mrap-engine", account, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, []string{"us-east-1", "eu-west-1"}, "us-east-2")
	deploymenttest.Put(cf, st, apARN)
	srv := httptest.NewServer(cf)
	t.Cleanup(srv.Close)
	clients := func(region string) deployment.CloudFormationAPI {
		return cloudformation.New(cloudformation.Options{Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	}
	return cf, st, clients
}

func TestDiscoverFindsEveryStackAndTheFailoverEnvironment(t *testing.T) {
	_, st, clients := fixture(t)
	d, err := deployment.Discover(context.Background(), clients, "mrap-engine", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(d.Stacks), len(st.Stacks); got != want {
		t.Fatalf("stacks: got %d, want %d", got, want)
	}
	env := d.Env("eu-west-1")
	for k, want := range map[string]string{
		"MRAP_ARN": apARN, "MRAP_DECIDER": "eu-west-1", "MRAP_AUDIT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:mrap-engine-audit",
		"MRAP_ALARM_PREFIX": "mrap-engine-health-", "MRAP_WITNESSES": "us-east-2",
	} {
		if env[k] != want {
			t.Errorf("%s: got %q, want %q", k, env[k], want)
		}
	}
	q := d.Queues()
	if len(q) != 3 || q[1].Region != "eu-west-1" || q[1].DeadLetter != "arn:aws:sqs:eu-west-1:123456789012:mrap-engine-replication-dlq-eu-west-1" {
		t.Errorf("queues: got %+v", q)
	}
	if got := strings.Join(d.Deciders(), ","); got != "us-east-1,eu-west-1" {
		t.Errorf("deciders: got %s", got)
	}
	if d.Stacks[0].Status != "CREATE_COMPLETE" {
		t.Errorf("status: got %q", d.Stacks[0].Status)
	}
}

func TestDiscoverFindsAControlStackOfAnotherNameByItsTags(t *testing.T) {
	cf, _, clients := fixture(t)
	st := deploymenttest.Settings("edge", account, []string{"us-east-1", "eu-west-1"}, []string{"us-east-1", "eu-west-1"}, "us-east-2")
	for i, ref := range st.Stacks {
		if ref.Role == deployment.RoleControl {
			st.Stacks[i].Name = "platform-mrap" // a name chosen in the user's own CDK app
		}
	}
	deploymenttest.Put(cf, st, apARN)
	for _, ref := range st.StacksOf(deployment.RoleControl) { // the user's own tags replace Project; MrapName stays
		cf.Put(ref.Region, deploymenttest.Stack{Name: ref.Name, Outputs: deploymenttest.Outputs(st, ref, apARN, account),
			Tags: map[string]string{deployment.TagProject: "platform", deployment.TagName: "edge"}})
	}
	d, err := deployment.Discover(context.Background(), clients, "edge", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if !hasStack(d, "platform-mrap") || d.Settings.Name != "edge" {
		t.Errorf("control stack: got %+v", d.Stacks)
	}
	calls := strings.Join(cf.Calls(), "\n")
	if !strings.Contains(calls, "us-east-1 DescribeStacks edge-control-us-east-1\nus-east-1 DescribeStacks *") {
		t.Errorf("want the conventional name first, then the listing by tag; calls:\n%s", calls)
	}
}

func hasStack(d deployment.Deployment, name string) bool {
	for _, s := range d.Stacks {
		if s.Name == name {
			return true
		}
	}
	return false
}

func TestDiscoverErrorsNameWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(cf *deploymenttest.CloudFormation, st deployment.Settings)
		lookup string
		region string
		kind   error
		says   []string
	}{
		{
			name: "a name with no stacks lists the engine stacks found by tag", lookup: "other", region: "us-east-1", kind: deployment.ErrStackNotFound,
			says: []string{"no control stack of \"other\" in us-east-1", "other-control-us-east-1", "mrap-engine-control-us-east-1 (MrapName=mrap-engine)", "--region"},
		},
		{
			name: "a Region without the CDK toolkit stack is not bootstrapped", lookup: "mrap-engine", region: "sa-east-1", kind: deployment.ErrNotBootstrapped,
			says: []string{"no stack mrap-engine-control-sa-east-1 in sa-east-1", "run cdk bootstrap aws://ACCOUNT/sa-east-1"},
		},
		{
			name: "a missing member stack in an unbootstrapped Region says so", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrNotBootstrapped,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) { cf.Drop("ap-southeast-2") },
			says:   []string{"mrap-engine-region-ap-southeast-2 does not exist in ap-southeast-2", "cdk bootstrap aws://123456789012/ap-southeast-2"},
		},
		{
			name: "a missing decider stack names it and the Region", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrStackNotFound,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) {
				cf.Delete("eu-west-1", "mrap-engine-decider-eu-west-1")
			},
			says: []string{"stack mrap-engine-decider-eu-west-1 does not exist in eu-west-1", "cdk deploy --all"},
		},
		{
			name: "a control stack of an older version has no settings output", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrOutdated,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) {
				cf.Put("us-east-1", deploymenttest.Stack{Name: "mrap-engine-control-us-east-1", Outputs: map[string]string{deployment.OutputAccessPointArn: apARN}})
			},
			says: []string{"mrap-engine-control-us-east-1 in us-east-1 has no output EngineSettings", "redeploy with cdk deploy"},
		},
		{
			name: "settings of an older version say which", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrOutdated,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) {
				cf.Put("us-east-1", deploymenttest.Stack{Name: "mrap-engine-control-us-east-1", Outputs: map[string]string{
					deployment.OutputAccessPointArn: apARN, deployment.OutputSettings: `{"version":0,"name":"mrap-engine"}`}})
			},
			says: []string{"version 0, older than 1", "redeploy with cdk deploy"},
		},
		{
			name: "a regional stack without its queue output is of an older version", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrOutdated,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) {
				cf.Put("eu-west-1", deploymenttest.Stack{Name: "mrap-engine-region-eu-west-1", Outputs: map[string]string{"Bucket": "b"}})
			},
			says: []string{"mrap-engine-region-eu-west-1 in eu-west-1 has no output ReplicationQueueArn, DeadLetterQueueArn"},
		},
		{
			name: "a rolled-back first deployment is not usable", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrStackFailed,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) {
				cf.Put("us-east-1", deploymenttest.Stack{Name: "mrap-engine-control-us-east-1", Status: "ROLLBACK_COMPLETE", Reason: "The following resource(s) failed to create: [AccessPoint]"})
			},
			says: []string{"mrap-engine-control-us-east-1 in us-east-1 is ROLLBACK_COMPLETE", "failed to create: [AccessPoint]", "delete-stack --stack-name mrap-engine-control-us-east-1 --region us-east-1"},
		},
		{
			name: "a stack still being created is not usable yet", lookup: "mrap-engine", region: "us-east-1", kind: deployment.ErrStackFailed,
			change: func(cf *deploymenttest.CloudFormation, st deployment.Settings) {
				cf.Put("eu-west-1", deploymenttest.Stack{Name: "mrap-engine-probe-eu-west-1", Status: "CREATE_IN_PROGRESS"})
			},
			says: []string{"mrap-engine-probe-eu-west-1 in eu-west-1 is CREATE_IN_PROGRESS", "wait for cdk deploy"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf, st, clients := fixture(t)
			if tc.change != nil {
				tc.change(cf, st)
			}
			_, err := deployment.Discover(context.Background(), clients, tc.lookup, tc.region)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want %v", err, tc.kind)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestDiscoverDoesNotMistakeAFailedCallForAMissingStack(t *testing.T) {
	broken := func(region string) deployment.CloudFormationAPI {
		return cloudformation.New(cloudformation.Options{Region: region, BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	}
	_, err := deployment.Discover(context.Background(), broken, "mrap-engine", "us-east-1")
	if err == nil || errors.Is(err, deployment.ErrStackNotFound) || !strings.Contains(err.Error(), "describe stack mrap-engine-control-us-east-1 in us-east-1") {
		t.Fatalf("got %v, want a failed describe naming the stack", err)
	}
}

func TestFromOutputsFile(t *testing.T) {
	_, st, _ := fixture(t)
	file := map[string]map[string]string{}
	for _, ref := range st.Stacks {
		if outs := deploymenttest.Outputs(st, ref, apARN, account); len(outs) > 0 { // as the CDK CLI writes it
			file[ref.Name] = outs
		}
	}
	write := func(t *testing.T, v any) string {
		p := filepath.Join(t.TempDir(), "cdk-outputs.json")
		b, _ := json.Marshal(v)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("finds the deployment and its stacks without a call", func(t *testing.T) {
		d, err := deployment.FromOutputsFile(write(t, file), "")
		if err != nil {
			t.Fatal(err)
		}
		if d.AccessPointARN != apARN || len(d.Stacks) != 6 || d.Env("us-east-1")["MRAP_AUDIT_TOPIC_ARN"] == "" || len(d.Queues()) != 3 {
			t.Errorf("got %+v", d)
		}
	})
	t.Run("an unknown name lists the deployments in the file", func(t *testing.T) {
		_, err := deployment.FromOutputsFile(write(t, file), "other")
		if !errors.Is(err, deployment.ErrStackNotFound) || !strings.Contains(err.Error(), `no deployment "other" (the file holds mrap-engine)`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("several deployments without a name are refused", func(t *testing.T) {
		two := map[string]map[string]string{}
		for k, v := range file {
			two[k] = v
		}
		other := deploymenttest.Settings("edge", account, []string{"us-east-1", "eu-west-1"}, []string{"us-east-1", "eu-west-1"}, "us-east-2")
		for _, ref := range other.Stacks {
			if outs := deploymenttest.Outputs(other, ref, apARN, account); len(outs) > 0 {
				two[ref.Name] = outs
			}
		}
		_, err := deployment.FromOutputsFile(write(t, two), "")
		if err == nil || !strings.Contains(err.Error(), "several deployments (edge, mrap-engine): pass --name") {
			t.Errorf("got %v", err)
		}
		if d, err := deployment.FromOutputsFile(write(t, two), "edge"); err != nil || d.Settings.Name != "edge" {
			t.Errorf("--name edge: got %v, %v", d.Settings.Name, err)
		}
	})
	t.Run("a stack left out of the file is named", func(t *testing.T) {
		partial := map[string]map[string]string{}
		for k, v := range file {
			if k != "mrap-engine-region-eu-west-1" {
				partial[k] = v
			}
		}
		_, err := deployment.FromOutputsFile(write(t, partial), "mrap-engine")
		if !errors.Is(err, deployment.ErrStackNotFound) || !strings.Contains(err.Error(), "mrap-engine-region-eu-west-1 (eu-west-1)") || !strings.Contains(err.Error(), "--outputs-file") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a file of an older version says redeploy", func(t *testing.T) {
		_, err := deployment.FromOutputsFile(write(t, map[string]map[string]string{"mrap-engine-control-us-east-1": {"AccessPointArn": apARN}}), "")
		if !errors.Is(err, deployment.ErrOutdated) || !strings.Contains(err.Error(), "redeploy with cdk deploy") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a file that is not the outputs JSON is refused", func(t *testing.T) {
		_, err := deployment.FromOutputsFile(write(t, []string{"x"}), "")
		if err == nil || !strings.Contains(err.Error(), "is not the JSON cdk deploy --outputs-file writes") {
			t.Errorf("got %v", err)
		}
	})
}
