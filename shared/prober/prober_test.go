package prober

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantTargets []string
		wantErr     []string
	}{
		{
			name:        "a member probes every other member",
			env:         map[string]string{"AWS_REGION": "us-east-1", "MRAP_MEMBERS": "us-east-1=a,eu-west-1=b,ap-southeast-2=c", "MRAP_ARN": "arn:aws:s3::1:accesspoint/x.mrap"},
			wantTargets: []string{"eu-west-1", "ap-southeast-2"},
		},
		{
			name:        "a witness has no bucket of its own and probes every member",
			env:         map[string]string{"AWS_REGION": "us-west-2", "MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_ARN": "arn:aws:s3::1:accesspoint/x.mrap"},
			wantTargets: []string{"us-east-1", "eu-west-1"},
		},
		{
			name:    "bad input is reported at once",
			env:     map[string]string{"AWS_REGION": "us-east-1", "MRAP_MEMBERS": "us-east-1=a", "MRAP_ARN": "alias-only"},
			wantErr: []string{"has no member other than this Region us-east-1", "MRAP_ARN: want"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(lookup(tt.env))
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to mention %q", err, want)
				}
			}
			if tt.wantErr != nil {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range c.Targets {
				got = append(got, m.Region)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantTargets, ",") || c.Observer != tt.env["AWS_REGION"] {
				t.Errorf("observer %s targets %v, want %v", c.Observer, got, tt.wantTargets)
			}
		})
	}
}

// TestProberFunctionAgainstVersitygw wires the function of a witness Region as on AWS but
// with local endpoints: one target Region's bucket and a stand-in global endpoint serving the
// alias as a bucket.
func TestProberFunctionAgainstVersitygw(t *testing.T) {
	ctx := context.Background()
	s := s3servertest.Start(t, s3server.Options{Region: "eu-west-1"})
	s2 := s3servertest.Start(t, s3server.Options{Region: "us-east-1", AccessKey: s.AccessKey, SecretKey: s.SecretKey})
	// The stand-in global endpoint answers for the observer's Region (the local global
	// endpoint re-signs; on AWS the SDK signs the MRAP ARN with SigV4A).
	g := s3servertest.Start(t, s3server.Options{Region: "us-west-2", AccessKey: s.AccessKey, SecretKey: s.SecretKey})
	const alias = "mfzwi23gnjvgw.mrap"
	if _, err := g.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(alias)}); err != nil {
		t.Fatalf("create alias bucket: %v", err)
	}
	if _, err := g.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String(".mrap-canary/global"), Body: strings.NewReader("g")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	var stdout bytes.Buffer
	p, err := Setup(ctx, lookup(map[string]string{
		"AWS_REGION":           "us-west-2", // a witness: no bucket of its own
		"MRAP_MEMBERS":         "eu-west-1=" + s.Bucket + ",us-east-1=" + s2.Bucket,
		"MRAP_ARN":             "arn:aws:s3::123456789012:accesspoint/" + alias,
		"MRAP_ENDPOINTS":       "eu-west-1=" + s.Endpoint + ",us-east-1=" + s2.Endpoint,
		"MRAP_GLOBAL_ENDPOINT": g.Endpoint,
	}), &stdout, telemetry.Discard())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	reports, err := Handler(p, "us-west-2")(ctx, json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 3 || !reports[0].OK || reports[0].Region != "eu-west-1" || !reports[1].OK || reports[1].Region != "us-east-1" ||
		!reports[2].OK || reports[2].Region != GlobalRegion || reports[2].Observer != "us-west-2" {
		t.Fatalf("reports = %+v, want both members and the global path OK from us-west-2", reports)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"CanaryAvailability":1`) || !strings.Contains(lines[0], `"Observer":"us-west-2"`) || !strings.Contains(lines[2], `"Region":"global"`) {
		t.Errorf("EMF lines = %q", lines)
	}
	// The canary key names the observer, and the probe deleted the version it wrote.
	vs, err := s.Client().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(s.Bucket), Prefix: aws.String(".mrap-canary/from-")})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 0 || len(vs.DeleteMarkers) != 0 {
		t.Errorf("canary versions left behind: %d versions, %d markers", len(vs.Versions), len(vs.DeleteMarkers))
	}
	// Stop the target: the next probe reports it unavailable, without failing the invocation.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	reports, err = Handler(p, "us-west-2")(ctx, nil)
	if err != nil || reports[0].OK || reports[0].Error == "" || !reports[1].OK {
		t.Errorf("after stop: %+v, %v; want eu-west-1 failed, us-east-1 OK and no error", reports, err)
	}
}
