package notifybridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/local/notifybridge"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

type recorder struct {
	mu   sync.Mutex
	envs [][]byte
	fail bool
}

func (r *recorder) deliver(_ context.Context, env []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("consumer down")
	}
	r.envs = append(r.envs, env)
	return nil
}

func (r *recorder) waitFor(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.envs) >= n {
			out := append([][]byte(nil), r.envs...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("got %d envelopes, want %d", len(r.envs), n)
	return nil
}

// startRegion starts versitygw with its webhook on a server whose handler the test sets
// once the bridge (which needs the server's client) exists.
func startRegion(t *testing.T) (*s3server.Server, func(*notifybridge.Bridge)) {
	t.Helper()
	if testing.Short() { // before the webhook server starts
		t.Skip("starts versitygw")
	}
	var current atomic.Pointer[notifybridge.Bridge]
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b := current.Load(); b != nil {
			b.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(hook.Close)
	s := s3servertest.Start(t, s3server.Options{Region: "eu-west-1", WebhookURL: hook.URL})
	return s, func(b *notifybridge.Bridge) { current.Store(b) }
}

// TestEnvelopesHaveTheAWSShape writes and deletes through versitygw and checks the
// envelopes the bridge builds from its webhook.
func TestEnvelopesHaveTheAWSShape(t *testing.T) {
	rec := &recorder{}
	s, setHook := startRegion(t)
	bridge := notifybridge.New([]notifybridge.Member{{Region: "eu-west-1", Bucket: s.Bucket, Client: s.Client()}},
		rec.deliver, notifybridge.Options{AccountID: "123456789012"})
	bridge.Start()
	t.Cleanup(bridge.Stop)
	setHook(bridge)

	ctx := context.Background()
	c := s.Client()
	key := "dir/a b+c%d.txt"
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: strings.NewReader("hello")})
	if err != nil {
		t.Fatal(err)
	}
	envs := rec.waitFor(t, 1)
	var ev events.S3ObjectEvent
	if err := json.Unmarshal(envs[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "Object Created" || ev.Source != "aws.s3" || ev.Region != "eu-west-1" || ev.AccountID != "123456789012" ||
		ev.Detail.Reason != "PutObject" || ev.Detail.Object.VersionID != aws.ToString(put.VersionId) || ev.Detail.Object.Size != 5 ||
		ev.Detail.Bucket.Name != s.Bucket || ev.Detail.Object.Key != "dir/a+b%2Bc%25d.txt" || len(ev.Resources) != 1 {
		t.Errorf("created envelope = %s", envs[0])
	}
	changes, err := events.ParseObjectChanges(envs[0])
	if err != nil || len(changes) != 1 || changes[0].Key != key || changes[0].Kind != events.Created {
		t.Errorf("ParseObjectChanges = %+v, %v", changes, err)
	}

	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	envs = rec.waitFor(t, 2)
	ev = events.S3ObjectEvent{}
	if err := json.Unmarshal(envs[1], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "Object Deleted" || ev.Detail.DeletionType != "Delete Marker Created" ||
		ev.Detail.Object.VersionID != aws.ToString(del.VersionId) || ev.Detail.Object.Size != 0 {
		t.Errorf("deleted envelope = %s (delete marker %s)", envs[1], aws.ToString(del.VersionId))
	}
	if ev.Detail.Object.Sequencer == "" {
		t.Error("delete envelope has no sequencer")
	}
	if st := bridge.Stats(); st.Delivered != 2 || st.DeadLettered != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestUndeliverableEventsGoToTheDeadLetterFile(t *testing.T) {
	rec := &recorder{fail: true}
	s, setHook := startRegion(t)
	dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
	bridge := notifybridge.New([]notifybridge.Member{{Region: "eu-west-1", Bucket: s.Bucket, Client: s.Client()}},
		rec.deliver, notifybridge.Options{AccountID: "123456789012", Attempts: 2, Backoff: time.Millisecond, DeadLetterPath: dlq})
	bridge.Start()
	t.Cleanup(bridge.Stop)
	setHook(bridge)
	if _, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for bridge.Stats().DeadLettered == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(dlq)
	if err != nil || !strings.Contains(string(b), "consumer down") || !strings.Contains(string(b), `"Object Created"`) {
		t.Fatalf("dead-letter file = %q, %v", b, err)
	}
	if st := bridge.Stats(); st.DeadLetters != 1 || st.Redriven != 0 {
		t.Errorf("stats before the redrive: %d waiting, %d redriven; want 1 and 0", st.DeadLetters, st.Redriven)
	}
	rec.mu.Lock()
	rec.fail = false
	rec.mu.Unlock()
	n, err := bridge.Redrive()
	if err != nil || n != 1 {
		t.Fatalf("Redrive() = %d, %v; want 1", n, err)
	}
	rec.waitFor(t, 1)
	if _, err := os.Stat(dlq); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead-letter file still there after redrive: %v", err)
	}
	// A status after a redrive (the runtime's own, or mrapctl redrive) shows none waiting.
	if st := bridge.Stats(); st.DeadLetters != 0 || st.Redriven != 1 || st.DeadLettered != 1 {
		t.Errorf("stats after the redrive: %d waiting, %d redriven, %d dead-lettered; want 0, 1, 1", st.DeadLetters, st.Redriven, st.DeadLettered)
	}
}
