package health

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/mrap-engine/mrap/shared/routing"
)

// cloudWatchWire is an httptest CloudWatch speaking the protocol the SDK uses
// (Smithy RPC v2 CBOR: POST /service/GraniteServiceVersion20100801/operation/DescribeAlarms),
// serving fixed alarms in two pages, or failing with a status.
type cloudWatchWire struct {
	mu       sync.Mutex
	alarms   []cbor.Value
	status   int
	prefixes []string
	delay    time.Duration
}

func (c *cloudWatchWire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "/operation/DescribeAlarms") || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		http.Error(w, "unexpected request "+r.URL.Path, http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	in, err := cbor.Decode(body)
	m, ok := in.(cbor.Map)
	if err != nil || !ok {
		http.Error(w, "body is not a CBOR map", http.StatusBadRequest)
		return
	}
	if p, ok := m["AlarmNamePrefix"].(cbor.String); ok {
		c.prefixes = append(c.prefixes, string(p))
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if c.status != 0 {
		w.WriteHeader(c.status)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("InternalServiceFault"), "message": cbor.String("boom")}))
		return
	}
	out := cbor.Map{}
	if _, second := m["NextToken"]; second {
		out["MetricAlarms"] = cbor.List(c.alarms[1:])
	} else {
		out["MetricAlarms"] = cbor.List(c.alarms[:1])
		out["NextToken"] = cbor.String("page-2")
	}
	_, _ = w.Write(cbor.Encode(out))
}

func wireAlarm(name, state string, at time.Time) cbor.Value {
	return cbor.Map{"AlarmName": cbor.String(name), "StateValue": cbor.String(state),
		"StateUpdatedTimestamp": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(at.UnixMilli()) / 1000)}}
}

func wireClient(t *testing.T, h http.Handler, region string) *cloudwatch.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return cloudwatch.New(cloudwatch.Options{Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", "")})
}

// TestObserveThroughTheSDKWire reads two observers' alarms through the real CloudWatch client:
// paginated DescribeAlarms with the name prefix, names parsed per observer, a failing observer
// and a slow one unreadable with the cause, and the quorum made from what was read.
func TestObserveThroughTheSDKWire(t *testing.T) {
	topo := Topology{Members: []string{"us-east-1", "eu-west-1"}, Witnesses: []string{"us-west-2"}}
	usw2 := &cloudWatchWire{alarms: []cbor.Value{
		wireAlarm("mrap-us-east-1-from-us-west-2-availability", "ALARM", t0.Add(-2*time.Minute)),
		wireAlarm("mrap-eu-west-1-from-us-west-2-availability", "OK", t0.Add(-time.Hour)),
		wireAlarm("mrap-ops-us-west-2-failover-errors", "ALARM", t0), // not a health alarm
	}}
	euw1 := &cloudWatchWire{alarms: []cbor.Value{
		wireAlarm("mrap-us-east-1-from-eu-west-1-availability", "ALARM", t0.Add(-time.Minute)),
		wireAlarm("mrap-us-east-1-from-us-west-2-availability", "OK", t0), // another observer's name: ignored here
	}}
	use1 := &cloudWatchWire{status: http.StatusInternalServerError}
	r, err := NewAlarmReader(map[string]AlarmsAPI{
		"us-west-2": wireClient(t, usw2, "us-west-2"),
		"eu-west-1": wireClient(t, euw1, "eu-west-1"),
		"us-east-1": wireClient(t, use1, "us-east-1"),
	}, AlarmOptions{Prefix: "mrap-", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := r.Observe(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obs.Unreadable["us-east-1"]; !ok || len(obs.Unreadable) != 1 {
		t.Errorf("unreadable = %v, want us-east-1 (500)", obs.Unreadable)
	}
	v := Quorum(topo, obs)
	if h := v.Health["us-east-1"]; h.State != routing.Alarm || !h.Since.Equal(t0.Add(-time.Minute)) {
		t.Errorf("us-east-1 = %+v, want ALARM since the second vote", h)
	}
	if h := v.Health["eu-west-1"]; h.State != routing.OK {
		t.Errorf("eu-west-1 = %+v, want OK (us-west-2 votes OK, us-east-1 unreadable)", h)
	}
	for _, w := range []*cloudWatchWire{usw2, euw1} {
		if len(w.prefixes) != 2 || w.prefixes[0] != "mrap-" {
			t.Errorf("DescribeAlarms prefixes = %v, want two pages with prefix mrap-", w.prefixes)
		}
	}
	t.Run("a slow observer is unreadable after the timeout", func(t *testing.T) {
		slow := &cloudWatchWire{alarms: usw2.alarms, delay: 500 * time.Millisecond}
		r, _ := NewAlarmReader(map[string]AlarmsAPI{"us-west-2": wireClient(t, slow, "us-west-2")}, AlarmOptions{Prefix: "mrap-", Timeout: 100 * time.Millisecond})
		obs, _ := r.Observe(context.Background(), topo)
		if cause := obs.Unreadable["us-west-2"]; cause == "" {
			t.Errorf("slow observer read: %+v", obs)
		}
		if cause := obs.Unreadable["eu-west-1"]; !strings.Contains(cause, "no CloudWatch client") {
			t.Errorf("observer without a client: %q", cause)
		}
	})
}
