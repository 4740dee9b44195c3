package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/deployment/deploymenttest"
	"github.com/mrap-engine/mrap/shared/local/eventbus"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
)

// fakeAWS is one httptest server that answers, through the real SDK clients pointed at it
// (AWS_ENDPOINT_URL), what mrapctl reads of a deployment, each service in its wire format:
// CloudFormation (query, XML), SQS (JSON 1.0), CloudWatch (RPC v2 CBOR), S3 (REST XML, path
// style) and the S3 Control routes API (the local routes API handler). The service and
// Region come from each request's SigV4 credential scope.
type fakeAWS struct {
	srv    *httptest.Server
	cf     *deploymenttest.CloudFormation
	routes *routesapi.Handler
	table  *routesapi.Table

	mu      sync.Mutex
	alarms  map[string][]cbor.Value // observer Region -> MetricAlarms
	metrics map[string]float64      // "region/id" -> value of the GetMetricData query id
	queues  map[string][2]int       // queue name -> visible, not visible
	objects map[string][]byte       // "bucket/key"
	failing map[string]int          // "service/region" -> status to answer
	keys    map[string]bool         // access key ids seen
	topics  []string                // the topics published to
	bus     *eventbus.Handler       // the default bus of every Region (PutEvents)
	reject  map[string]string       // Region -> error code its bus answers for every entry
	events  map[string][]string     // Region -> the events put on its bus, as delivered
	writes  []string                // "access key: service region METHOD path" of every write
	// deliver hands an event put on a Region's bus to that Region's decider; nil drops it.
	deliver func(region string, event []byte)
	dmu     sync.Mutex // one delivery at a time
	moves   []string   // message move tasks started: "source -> destination"
	calls   []string
}

func newFakeAWS(t *testing.T, settings deployment.Settings, apARN string) *fakeAWS {
	t.Helper()
	f := &fakeAWS{cf: &deploymenttest.CloudFormation{Account: testAccount, PageSize: 3}, alarms: map[string][]cbor.Value{},
		metrics: map[string]float64{}, queues: map[string][2]int{}, objects: map[string][]byte{}, failing: map[string]int{}, keys: map[string]bool{},
		reject: map[string]string{}, events: map[string][]string{}}
	f.bus = &eventbus.Handler{Account: testAccount, Deliver: func(region string, ev []byte) {
		f.mu.Lock()
		f.events[region] = append(f.events[region], string(ev))
		deliver := f.deliver
		f.mu.Unlock()
		if deliver != nil {
			f.dmu.Lock()
			defer f.dmu.Unlock()
			deliver(region, ev)
		}
	}}
	deploymenttest.Put(f.cf, settings, apARN)
	var initial []routesapi.Route
	for _, m := range strings.Split(settings.Env["MRAP_MEMBERS"], ",") {
		region, bucket, _ := strings.Cut(m, "=")
		initial = append(initial, routesapi.Route{Region: region, Bucket: bucket, Dial: 100})
	}
	table, err := routesapi.Open(filepath.Join(t.TempDir(), "routes.json"), initial)
	if err != nil {
		t.Fatal(err)
	}
	alias := strings.TrimPrefix(apARN, "arn:aws:s3::"+testAccount+":accesspoint/")
	f.table = table
	f.routes = routesapi.New(table, routesapi.Identity{AccountID: testAccount, ARN: apARN, Alias: alias}, routesapi.Options{})
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

var accessKey = regexp.MustCompile(`Credential=([^/]+)/`)

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region, service := deploymenttest.RequestScope(r)
	f.mu.Lock()
	key := ""
	if m := accessKey.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		key = m[1]
		f.keys[key] = true
	}
	f.calls = append(f.calls, service+" "+region+" "+r.Method+" "+r.URL.Path)
	if r.Method != http.MethodGet && r.Method != http.MethodHead && service != "cloudformation" && service != "sqs" && service != "monitoring" && service != "sts" {
		f.writes = append(f.writes, key+": "+service+" "+region+" "+r.Method+" "+r.URL.Path)
	}
	status := f.failing[service+"/"+region]
	reject := f.reject[region]
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "injected failure", status)
		return
	}
	switch {
	case service == "cloudformation":
		f.cf.ServeHTTP(w, r)
	case service == "sqs":
		f.sqs(w, r)
	case service == "monitoring":
		f.cloudwatch(w, r, region)
	case service == "s3" && strings.HasPrefix(r.URL.Path, "/v20180820/"):
		f.routes.ServeHTTP(w, r)
	case service == "s3":
		f.s3(w, r)
	case service == "sns":
		f.sns(w, r)
	case service == "sts":
		f.sts(w, r)
	case service == "events" && reject != "":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"FailedEntryCount":1,"Entries":[{"ErrorCode":%q,"ErrorMessage":"injected rejection"}]}`, reject)
	case service == "events":
		f.bus.ServeHTTP(w, r)
	default:
		http.Error(w, "unexpected "+service+" request "+r.URL.Path, http.StatusBadRequest)
	}
}

func (f *fakeAWS) sqs(w http.ResponseWriter, r *http.Request) {
	var in struct{ QueueName, QueueUrl, SourceArn, DestinationArn string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSQS.GetQueueUrl":
		if _, ok := f.queues[in.QueueName]; !ok {
			w.Header().Set("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`)
			return
		}
		fmt.Fprintf(w, `{"QueueUrl":"https://sqs.example.amazonaws.com/%s/%s"}`, testAccount, in.QueueName)
	case "AmazonSQS.StartMessageMoveTask":
		f.moves = append(f.moves, in.SourceArn+" -> "+in.DestinationArn)
		fmt.Fprint(w, `{"TaskHandle":"task-1"}`)
	case "AmazonSQS.GetQueueAttributes":
		n := f.queues[in.QueueUrl[strings.LastIndex(in.QueueUrl, "/")+1:]]
		fmt.Fprintf(w, `{"Attributes":{"ApproximateNumberOfMessages":"%d","ApproximateNumberOfMessagesNotVisible":"%d"}}`, n[0], n[1])
	default:
		http.Error(w, "unexpected SQS target "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
	}
}

func (f *fakeAWS) cloudwatch(w http.ResponseWriter, r *http.Request, region string) {
	body, _ := io.ReadAll(r.Body)
	in, err := cbor.Decode(body)
	if _, ok := in.(cbor.Map); err != nil || !ok || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		http.Error(w, "not an RPC v2 CBOR request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/operation/DescribeAlarms"):
		_, _ = w.Write(cbor.Encode(cbor.Map{"MetricAlarms": cbor.List(f.alarms[region])}))
	case strings.HasSuffix(r.URL.Path, "/operation/GetMetricData"):
		var results cbor.List
		for _, q := range in.(cbor.Map)["MetricDataQueries"].(cbor.List) {
			id := string(q.(cbor.Map)["Id"].(cbor.String))
			res := cbor.Map{"Id": cbor.String(id), "StatusCode": cbor.String("Complete"), "Timestamps": cbor.List{}, "Values": cbor.List{}}
			if v, ok := f.metrics[region+"/"+id]; ok {
				res["Timestamps"] = cbor.List{&cbor.Tag{ID: 1, Value: cbor.Float64(float64(time.Now().Add(-15 * time.Minute).Unix()))}}
				res["Values"] = cbor.List{cbor.Float64(v)}
			}
			results = append(results, res)
		}
		_, _ = w.Write(cbor.Encode(cbor.Map{"MetricDataResults": results}))
	default:
		http.Error(w, "unexpected CloudWatch operation "+r.URL.Path, http.StatusBadRequest)
	}
}

func (f *fakeAWS) s3(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		body, ok := f.objects[key]
		if !ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			_ = xml.NewEncoder(w).Encode(struct {
				XMLName xml.Name `xml:"Error"`
				Code    string
				Message string
			}{Code: "NoSuchKey", Message: "The specified key does not exist."})
			return
		}
		sum := crc32.ChecksumIEEE(body) // the engine's writes carry CRC32, so S3 returns it
		w.Header().Set("x-amz-checksum-crc32", base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum)))
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		_, _ = w.Write(body)
	case http.MethodPut: // the deciders' records
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.objects[key] = body
		w.Header().Set("ETag", fmt.Sprintf(`"%08x"`, crc32.ChecksumIEEE(body)))
	default:
		http.Error(w, "unexpected S3 "+r.Method, http.StatusMethodNotAllowed)
	}
}

// alarm adds the health alarm of target as observer sees it.
func (f *fakeAWS) alarm(prefix, target, observer, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alarms[observer] = append(f.alarms[observer], cbor.Map{"AlarmName": cbor.String(prefix + target + "-from-" + observer + "-availability"),
		"StateValue": cbor.String(state), "StateUpdatedTimestamp": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC).Unix()))}})
}

func (f *fakeAWS) put(key string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[key] = body
}

// callerARN is who the fake's STS says the caller is.
const callerARN = "arn:aws:sts::123456789012:assumed-role/Operator/alice"

// sts answers GetCallerIdentity (query protocol).
func (f *fakeAWS) sts(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "GetCallerIdentity" {
		http.Error(w, "unexpected STS request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>AROAEXAMPLE:alice</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, callerARN, testAccount)
}

// sns answers Publish (query protocol) and records the topic.
func (f *fakeAWS) sns(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "Publish" {
		http.Error(w, "unexpected SNS request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.topics = append(f.topics, r.PostForm.Get("TopicArn"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`)
}
