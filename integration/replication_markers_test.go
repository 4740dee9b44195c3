package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// TestReplicationEngineMarkerKeepsTheDeleteOrigin is the chaos test's data-loss case against
// three versitygw Regions with delete markers timed like S3 (markerClock): a user deletes a
// key in us-east-1 (second S), writes it in ap-southeast-2 (S+1), and the engine replicates
// the delete to eu-west-1 afterwards (S+2). The engine's marker there must keep the delete's
// origin: whatever the order of the remaining events (the write's, the engine marker's echo),
// every Region ends with the write, and a reconcile pass finds nothing to repair.
func TestReplicationEngineMarkerKeepsTheDeleteOrigin(t *testing.T) {
	skipShort(t)
	ctx := context.Background()
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	clock := newMarkerClock(plainTransport())
	servers := map[string]*s3server.Server{}
	for _, srv := range startRegions(t, regions...) {
		servers[srv.Region] = srv
	}
	clients := map[string]*s3.Client{}
	var members []config.Member
	storeClients := map[string]s3store.S3API{}
	for _, r := range regions {
		clients[r] = servers[r].Client(func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: clock, Timeout: 30 * time.Second} })
		storeClients[r] = clients[r]
		members = append(members, config.Member{Region: r, Bucket: servers[r].Bucket})
	}
	store, err := s3store.New(storeClients, s3store.Options{})
	must(t, err, "store")
	engine, err := replication.New(store, members, replication.Options{})
	must(t, err, "engine")

	apply := func(t *testing.T, body []byte) replication.Result {
		t.Helper()
		changes, err := events.ParseObjectChanges(body)
		if err != nil || len(changes) != 1 {
			t.Fatalf("parse: %v (%d changes)", err, len(changes))
		}
		res, err := engine.Apply(ctx, changes[0])
		must(t, err, "apply %s %s", changes[0].Kind, changes[0].VersionID)
		return res
	}
	bucket := func(r string) string { return servers[r].Bucket }
	nextSecond := func() {
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	}
	put := func(t *testing.T, r, key, body string) []byte {
		out, err := clients[r].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket(r)), Key: aws.String(key), Body: bytes.NewReader([]byte(body))})
		must(t, err, "put %q in %s", key, r)
		return envelope(r, bucket(r), key, aws.ToString(out.VersionId), int64(len(body)), false)
	}
	del := func(t *testing.T, r, key string) []byte {
		out, err := clients[r].DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket(r)), Key: aws.String(key)})
		must(t, err, "delete %q in %s", key, r)
		return envelope(r, bucket(r), key, aws.ToString(out.VersionId), 0, true)
	}
	serves := func(t *testing.T, r, key string) string {
		get, err := clients[r].GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket(r)), Key: aws.String(key)})
		if err != nil {
			return "nothing (" + err.Error() + ")"
		}
		defer get.Body.Close()
		b, _ := io.ReadAll(get.Body)
		return string(b)
	}

	for _, tt := range []struct {
		name      string
		echoFirst bool // the engine marker's echo before the write's event
	}{
		{name: "echo of the engine marker, then the write", echoFirst: true},
		{name: "the write, then the echo of the engine marker"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "markers/" + tt.name
			apply(t, put(t, "us-east-1", key, "first"))
			nextSecond()
			deleted := del(t, "us-east-1", key) // S
			nextSecond()
			write := put(t, "ap-southeast-2", key, "written after the delete") // S+1
			nextSecond()
			res := apply(t, deleted) // S+2: the engine's marker in eu-west-1
			if got := statuses(res); got["eu-west-1"] != "replicated:" || got["ap-southeast-2"] != "skipped:destination-newer" {
				t.Fatalf("delete replicated: %v, want eu-west-1 replicated, ap-southeast-2 destination-newer", got)
			}
			list, err := clients["eu-west-1"].ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket("eu-west-1")), Prefix: aws.String(key)})
			must(t, err, "list eu-west-1")
			if len(list.DeleteMarkers) != 1 {
				t.Fatalf("eu-west-1 holds %d delete markers, want the engine's one", len(list.DeleteMarkers))
			}
			echo := envelope("eu-west-1", bucket("eu-west-1"), key, aws.ToString(list.DeleteMarkers[0].VersionId), 0, true)
			steps := [][]byte{echo, write}
			if !tt.echoFirst {
				steps = [][]byte{write, echo}
			}
			for _, s := range steps {
				res := apply(t, s)
				if res.Change.Kind == events.DeleteMarkerCreated {
					want := "skipped:replica" // after the write's copy, the marker is no longer current
					if !tt.echoFirst {
						want = "skipped:superseded"
					}
					if got := statuses(res); got["us-east-1"] != want || got["ap-southeast-2"] != want {
						t.Errorf("echo of the engine marker: %v, want %s", got, want)
					}
				} else if got := statuses(res); got["eu-west-1"] != "replicated:" || got["us-east-1"] != "replicated:" {
					t.Errorf("write replicated: %v, want replicated over both delete markers", got)
				}
			}
			for _, r := range regions {
				if got := serves(t, r, key); got != "written after the delete" {
					t.Errorf("%s serves %q, want the write made after the delete", r, got)
				}
			}
			runner, err := reconcile.New(store, engine, members, reconcile.Options{DryRun: true, Scope: reconcile.Scope{Prefix: key}})
			must(t, err, "reconcile runner")
			sum, err := runner.Run(ctx)
			must(t, err, "reconcile")
			if sum.Run.RepairsPlanned != 0 || sum.Run.KeysScanned != 1 {
				t.Errorf("reconcile: %d keys, %d repairs planned %v, want 1 key and none", sum.Run.KeysScanned, sum.Run.RepairsPlanned, sum.Run.ByKind)
			}
		})
	}
}

// statuses renders the outcome of each destination as "status:reason".
func statuses(res replication.Result) map[string]string {
	out := map[string]string{}
	for _, o := range res.Destinations {
		out[o.Region] = string(o.Status) + ":" + o.Reason
	}
	return out
}
