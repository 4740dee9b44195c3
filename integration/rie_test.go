package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/local/s3server"
)

// findTool resolves a pinned peer: on PATH, else ./bin under the module root.
func findTool(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(moduleRoot(tb), "bin", name)
	if _, err := exec.LookPath(p); err != nil {
		tb.Fatalf("%s not found on PATH nor in ./bin (run `make tools`)", name)
	}
	return p
}

// lambdaUnderRIE is one function binary running under the Lambda Runtime Interface Emulator.
type lambdaUnderRIE struct {
	url string // invocation URL
	p   *proc
}

// startRIE runs bootstrap under aws-lambda-rie with env (plus a minimal base) and waits until
// the emulator listens.
func startRIE(tb testing.TB, bootstrap string, env ...string) *lambdaUnderRIE {
	tb.Helper()
	rie := findTool(tb, "aws-lambda-rie")
	emu, api := freeAddr(tb), freeAddr(tb)
	p := startProc(tb, filepath.Dir(bootstrap), baseEnv(env...), rie,
		"--runtime-interface-emulator-address", emu,
		"--runtime-api-address", api,
		"./"+filepath.Base(bootstrap))
	waitTCP(tb, p, emu, 15*time.Second)
	return &lambdaUnderRIE{url: "http://" + emu + "/2015-03-31/functions/function/invocations", p: p}
}

// invoke posts payload as one invocation and returns the raw response.
func (l *lambdaUnderRIE) invoke(tb testing.TB, payload any) []byte {
	tb.Helper()
	b, err := json.Marshal(payload)
	must(tb, err, "marshal payload")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(b))
	must(tb, err, "invocation request")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	must(tb, err, "invoke")
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	must(tb, err, "read invocation response")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("invoke: HTTP %d: %s", resp.StatusCode, out)
	}
	return out
}

// objectCreatedEnvelope is the EventBridge "Object Created" event S3 emits for a PutObject.
func objectCreatedEnvelope(s *s3server.Server, key string, put *s3.PutObjectOutput, size int64, sequencer string, at time.Time) events.S3ObjectEvent {
	return events.S3ObjectEvent{
		Envelope: events.Envelope{
			Version:    "0",
			ID:         "17793124-05d4-b198-2fde-7ededc63b103",
			DetailType: events.DetailTypeObjectCreated,
			Source:     events.S3EventSource,
			AccountID:  "111122223333",
			Time:       at.UTC().Truncate(time.Second),
			Region:     s.Region,
			Resources:  []string{"arn:aws:s3:::" + s.Bucket},
		},
		Detail: events.S3ObjectDetail{
			Version: "0",
			Bucket:  events.S3DetailBucket{Name: s.Bucket},
			Object: events.S3DetailObject{
				Key:       key,
				Size:      size,
				ETag:      strings.Trim(aws.ToString(put.ETag), `"`),
				VersionID: aws.ToString(put.VersionId),
				Sequencer: sequencer,
			},
			RequestID:       "N4N7GDK58NMKJ12R",
			Requester:       "111122223333",
			SourceIPAddress: "127.0.0.1",
			Reason:          events.ReasonPutObject,
		},
	}
}

// sqsRecord wraps body as one SQS message of an EventBridge-fed queue.
func sqsRecord(id, region, body string) lambdaevents.SQSMessage {
	return lambdaevents.SQSMessage{
		MessageId:     id,
		ReceiptHandle: "AQEB" + id,
		Body:          body,
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    "1636675201000",
			"SenderId":                         "AIDAIENQZJOLO23YVJ4VO",
			"ApproximateFirstReceiveTimestamp": "1636675201005",
		},
		MessageAttributes: map[string]lambdaevents.SQSMessageAttribute{},
		Md5OfBody:         "e4e68fb7bd0e697a0ae8f1bb342846b3",
		EventSource:       "aws:sqs",
		EventSourceARN:    "arn:aws:sqs:" + region + ":111122223333:mrap-replication",
		AWSRegion:         region,
	}
}

// TestReplicatorBootstrapUnderRIE runs the built replicator once under the Lambda Runtime
// Interface Emulator with a real-shaped SQS batch and checks the replica in the other Region.
func TestReplicatorBootstrapUnderRIE(t *testing.T) {
	skipShort(t)
	regions := startRegions(t, "us-east-1", "eu-west-1")
	a, b := regions[0], regions[1]
	members, endpoints := memberEnv(regions)
	bootstrap := buildFunction(t, "replicator", hostArch())
	fn := startRIE(t, bootstrap,
		"MRAP_MEMBERS="+members,
		"MRAP_ENDPOINTS="+endpoints,
		"AWS_REGION="+a.Region,
		"AWS_DEFAULT_REGION="+a.Region,
		"AWS_ACCESS_KEY_ID="+a.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+a.SecretKey,
		// Lambda sets this for the deployed function (infra: LoggingFormat JSON); the RIE does not.
		"AWS_LAMBDA_LOG_FORMAT=JSON",
	)
	ctx := context.Background()

	key := "photos/2026/a b+c:é.txt"
	body := []byte("replicate me under the emulator")
	put, err := a.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: &a.Bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType:  aws.String("text/plain; charset=utf-8"),
		CacheControl: aws.String("max-age=60"),
		Metadata:     map[string]string{"colour": "blue"},
	})
	must(t, err, "PutObject in %s", a.Region)
	const sequencer = "0055AED6DCD90281E5"
	envelope := objectCreatedEnvelope(a, key, put, int64(len(body)), sequencer, time.Now())
	envBytes, err := json.Marshal(envelope)
	must(t, err, "marshal envelope")

	t.Run("object created in A arrives in B with its metadata and marks", func(t *testing.T) {
		raw := fn.invoke(t, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
			sqsRecord("059f36b4-87a3-44ab-83d2-661975830a70", a.Region, string(envBytes)),
		}})
		var resp lambdaevents.SQSEventResponse
		must(t, json.Unmarshal(raw, &resp), "response %s", raw)
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("BatchItemFailures = %+v, want none", resp.BatchItemFailures)
		}

		src, err := a.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &a.Bucket, Key: &key})
		must(t, err, "HeadObject source")
		got, err := b.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &b.Bucket, Key: &key})
		must(t, err, "GetObject replica in %s", b.Region)
		defer got.Body.Close()
		gotBody, err := io.ReadAll(got.Body)
		must(t, err, "read replica")
		if !bytes.Equal(gotBody, body) {
			t.Errorf("replica body = %q, want %q", gotBody, body)
		}
		if ct := aws.ToString(got.ContentType); ct != "text/plain; charset=utf-8" {
			t.Errorf("replica Content-Type = %q, want text/plain; charset=utf-8", ct)
		}
		if cc := aws.ToString(got.CacheControl); cc != "max-age=60" {
			t.Errorf("replica Cache-Control = %q, want max-age=60", cc)
		}
		m := got.Metadata
		want := map[string]string{
			"colour":                 "blue",
			"mrap-origin-region":     a.Region,
			"mrap-origin-version-id": aws.ToString(put.VersionId),
			"mrap-origin-sequencer":  sequencer,
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("replica metadata %s = %q, want %q (all: %v)", k, m[k], v, m)
			}
		}
		ot, err := time.Parse(time.RFC3339Nano, m["mrap-origin-time"])
		if err != nil {
			t.Errorf("mrap-origin-time %q is not RFC 3339: %v", m["mrap-origin-time"], err)
		} else if d := ot.Sub(aws.ToTime(src.LastModified)); d < -time.Second || d > time.Second {
			t.Errorf("mrap-origin-time %s, source Last-Modified %s: want the origin write time", ot, src.LastModified)
		}
	})

	t.Run("the function logs JSON and emits the Replicated metric in EMF", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			out := fn.p.out.String()
			if emf := emfLine(out, "Replicated"); emf != nil {
				meta, _ := emf["_aws"].(map[string]any)
				if meta == nil || emf["Region"] != a.Region || emf["Replicated"] != float64(1) {
					t.Errorf("EMF line %v: want _aws, Region %s and Replicated 1", emf, a.Region)
				}
				if !hasJSONLog(out) {
					t.Errorf("no JSON log line (level, message, requestId) in the function output:\n%s", out)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no EMF line with Replicated in the function output:\n%s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("a direct EventBridge invocation replicates too", func(t *testing.T) {
		key3 := "direct/eventbridge.txt"
		body3 := []byte("direct")
		put3, err := a.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &a.Bucket, Key: &key3, Body: bytes.NewReader(body3)})
		must(t, err, "PutObject %s", key3)
		raw := fn.invoke(t, objectCreatedEnvelope(a, key3, put3, int64(len(body3)), "0055AED6DCD90281E7", time.Now()))
		if s := strings.TrimSpace(string(raw)); s != "null" {
			t.Errorf("direct invocation response = %s, want null", s)
		}
		got, err := b.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &b.Bucket, Key: &key3})
		must(t, err, "replica of the direct invocation in %s", b.Region)
		defer got.Body.Close()
		if gb, _ := io.ReadAll(got.Body); !bytes.Equal(gb, body3) {
			t.Errorf("replica = %q, want %q", gb, body3)
		}
	})

	t.Run("a malformed record fails alone next to a good one", func(t *testing.T) {
		key2 := "second/object.bin"
		body2 := []byte("second")
		put2, err := a.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &a.Bucket, Key: &key2, Body: bytes.NewReader(body2)})
		must(t, err, "PutObject %s", key2)
		env2, err := json.Marshal(objectCreatedEnvelope(a, key2, put2, int64(len(body2)), "0055AED6DCD90281E6", time.Now()))
		must(t, err, "marshal envelope")
		const bad = "2e1424d4-f796-459a-8184-9c92662be6da"
		raw := fn.invoke(t, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
			sqsRecord("a5f0e7c2-0e4e-4bd6-9f3e-6a1b2c3d4e5f", a.Region, string(env2)),
			sqsRecord(bad, a.Region, `{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": `),
		}})
		var resp lambdaevents.SQSEventResponse
		must(t, json.Unmarshal(raw, &resp), "response %s", raw)
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad {
			t.Errorf("BatchItemFailures = %+v, want exactly [%s]", resp.BatchItemFailures, bad)
		}
		got, err := b.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &b.Bucket, Key: &key2})
		must(t, err, "the good record's replica in %s", b.Region)
		defer got.Body.Close()
		if gb, _ := io.ReadAll(got.Body); !bytes.Equal(gb, body2) {
			t.Errorf("good record replica = %q, want %q", gb, body2)
		}
	})
}

// emfLine finds the first CloudWatch Embedded Metric Format line of out that carries metric.
func emfLine(out, metric string) map[string]any {
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "{")
		if i < 0 || !strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line[i:]), &m) != nil {
			continue
		}
		if _, ok := m[metric]; ok {
			return m
		}
	}
	return nil
}

// hasJSONLog reports whether out holds a structured JSON log line (level, message and the
// invocation's requestId, as Lambda's JSON log format writes them).
func hasJSONLog(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "{")
		if i < 0 {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line[i:]), &m) == nil && m["level"] != nil && (m["message"] != nil || m["msg"] != nil) && m["requestId"] != nil {
			return true
		}
	}
	return false
}
