package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// jittered widens the window between an engine's read of a destination and its write there,
// so two engines racing on one key interleave often.
type jittered struct {
	*s3store.Store
	max time.Duration
}

func (j *jittered) Head(ctx context.Context, region, bucket, key string) (replication.Version, error) {
	v, err := j.Store.Head(ctx, region, bucket, key)
	time.Sleep(rand.N(j.max))
	return v, err
}

// unconditional is the same store seen as a plain StreamingStore: the engine cannot condition
// its writes (the behaviour before conditional writes).
type unconditional struct {
	replication.StreamingStore
}

// TestReplicationRaceConvergesToTheWinner writes the same keys in eu-west-1 and
// us-east-1 at once, round after round, and applies both changes at once with two engines (one
// per source Region, as the replicator runs in each Region) against three versitygw Regions.
// Every Region must end each round holding the conflict rule's winner. The same run without
// conditional writes is measured for comparison (it is logged, not asserted: whether a round
// interleaves is up to the scheduler).
func TestReplicationRaceConvergesToTheWinner(t *testing.T) {
	skipShort(t)
	regions := []string{"eu-west-1", "us-east-1", "ap-southeast-2"}
	servers := startRegions(t, regions...)
	clients := map[string]s3store.S3API{}
	var members []config.Member
	byRegion := map[string]*s3server.Server{}
	for i, s := range servers {
		clients[regions[i]] = s.Client()
		members = append(members, config.Member{Region: regions[i], Bucket: s.Bucket})
		byRegion[regions[i]] = s
	}
	const rounds = 24
	keys := []string{"race/a", "race/b c+d", "race/é"}

	run := func(t *testing.T, prefix string, wrap func(*s3store.Store) replication.Store) (diverged int) {
		engines := map[string]*replication.Engine{}
		for _, src := range regions[:2] {
			st, err := s3store.New(clients, s3store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e, err := replication.New(wrap(st), members, replication.Options{})
			if err != nil {
				t.Fatal(err)
			}
			engines[src] = e
		}
		for round := range rounds {
			key := prefix + keys[round%len(keys)]
			changes := map[string]events.ObjectChange{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, src := range regions[:2] {
				wg.Go(func() {
					srv := byRegion[src]
					body := fmt.Sprintf("round %d written in %s", round, src)
					out, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key), Body: strings.NewReader(body)})
					if err != nil {
						t.Errorf("put in %s: %v", src, err)
						return
					}
					cs, err := events.ParseObjectChanges(envelope(src, srv.Bucket, key, aws.ToString(out.VersionId), int64(len(body)), false))
					if err != nil || len(cs) != 1 {
						t.Errorf("parse: %v", err)
						return
					}
					mu.Lock()
					changes[src] = cs[0]
					mu.Unlock()
				})
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			// The winner is computed before the copies: versitygw v1.8.0 gives a version that
			// stops being current a new Last-Modified (it copies the file into its versioning
			// folder), so the source versions read afterwards would not be the ones decided on.
			winner := ruleWinner(t, byRegion, key, changes)
			start := make(chan struct{})
			for _, src := range regions[:2] {
				wg.Go(func() {
					<-start
					if _, err := engines[src].Apply(context.Background(), changes[src]); err != nil {
						t.Errorf("round %d: apply the %s change: %v", round, src, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if after := ruleWinner(t, byRegion, key, changes); !after.Same(winner) {
				t.Logf("round %d: read again afterwards, the source versions name %s the winner (Last-Modified changed)", round, after.Region)
			}
			holdings := map[string]string{}
			same := true
			for _, r := range regions {
				srv := byRegion[r]
				head, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("round %d: head %s: %v", round, r, err)
				}
				o := replication.DestinationOrigin(r, replication.Version{Exists: true, VersionID: aws.ToString(head.VersionId), LastModified: aws.ToTime(head.LastModified), Metadata: head.Metadata})
				holdings[r] = o.Region + "/" + o.VersionID
				same = same && o.Same(winner)
			}
			if !same {
				diverged++
				t.Logf("round %d key %q: winner %s/%s, Regions hold %v", round, key, winner.Region, winner.VersionID, holdings)
			}
		}
		return diverged
	}

	var withConditions, without int
	t.Run("conditional writes", func(t *testing.T) {
		withConditions = run(t, "cond/", func(s *s3store.Store) replication.Store { return &jittered{Store: s, max: 15 * time.Millisecond} })
		if withConditions != 0 {
			t.Errorf("%d of %d rounds left a Region without the winner", withConditions, rounds)
		}
	})
	t.Run("without conditions (before)", func(t *testing.T) {
		without = run(t, "plain/", func(s *s3store.Store) replication.Store {
			return unconditional{StreamingStore: &jittered{Store: s, max: 15 * time.Millisecond}}
		})
	})
	t.Logf("rounds that diverged out of %d: %d with conditional writes, %d without", rounds, withConditions, without)
}

// ruleWinner returns the origin that wins between the two source writes of a round.
func ruleWinner(t *testing.T, byRegion map[string]*s3server.Server, key string, changes map[string]events.ObjectChange) replication.Origin {
	t.Helper()
	var best replication.Origin
	for src, c := range changes {
		srv := byRegion[src]
		head, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key), VersionId: aws.String(c.VersionID)})
		if err != nil {
			t.Fatalf("head source version in %s: %v", src, err)
		}
		o, _, err := replication.OriginOf(src, c.VersionID, aws.ToTime(head.LastModified), c.Sequencer, nil)
		if err != nil {
			t.Fatal(err)
		}
		if best.Region == "" || replication.Wins(o, best) {
			best = o
		}
	}
	return best
}

// TestReplicationRaceWithDeletes races a user write in eu-west-1 against a user delete in
// us-east-1 of a key every Region already holds, round after round, with two engines at once.
// Delete markers on versitygw are guarded by verification only (DeleteObject checks If-Match
// outside its lock; If-None-Match over a delete marker is refused), so this pins the
// verification path: every Region must end with the rule's winner (an object with the winning
// origin, or a delete marker).
func TestReplicationRaceWithDeletes(t *testing.T) {
	skipShort(t)
	regions := []string{"eu-west-1", "us-east-1", "ap-southeast-2"}
	servers := startRegions(t, regions...)
	clients := map[string]s3store.S3API{}
	var members []config.Member
	byRegion := map[string]*s3server.Server{}
	for i, s := range servers {
		clients[regions[i]] = s.Client()
		members = append(members, config.Member{Region: regions[i], Bucket: s.Bucket})
		byRegion[regions[i]] = s
	}
	reader, err := s3store.New(clients, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]*replication.Engine{}
	for _, src := range regions[:2] {
		st, err := s3store.New(clients, s3store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if engines[src], err = replication.New(&jittered{Store: st, max: 15 * time.Millisecond}, members, replication.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	apply := func(src string, body []byte) {
		cs, err := events.ParseObjectChanges(body)
		if err != nil || len(cs) != 1 {
			t.Errorf("parse: %v", err)
			return
		}
		if _, err := engines[src].Apply(ctx, cs[0]); err != nil {
			t.Errorf("apply the %s change: %v", src, err)
		}
	}
	const rounds = 16
	diverged := 0
	for round := range rounds {
		key := fmt.Sprintf("delrace/%d", round%4)
		// Every Region holds the same object first.
		us := byRegion["us-east-1"]
		out, err := us.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(key), Body: strings.NewReader(fmt.Sprintf("base %d", round))})
		if err != nil {
			t.Fatal(err)
		}
		apply("us-east-1", envelope("us-east-1", us.Bucket, key, aws.ToString(out.VersionId), 6, false))
		// Then a write in eu-west-1 and a delete in us-east-1 at once.
		var euBody, usBody []byte
		var wg sync.WaitGroup
		wg.Go(func() {
			eu := byRegion["eu-west-1"]
			body := fmt.Sprintf("round %d written in eu", round)
			out, err := eu.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(eu.Bucket), Key: aws.String(key), Body: strings.NewReader(body)})
			if err != nil {
				t.Error(err)
				return
			}
			euBody = envelope("eu-west-1", eu.Bucket, key, aws.ToString(out.VersionId), int64(len(body)), false)
		})
		wg.Go(func() {
			out, err := us.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(key)})
			if err != nil {
				t.Error(err)
				return
			}
			usBody = envelope("us-east-1", us.Bucket, key, aws.ToString(out.VersionId), 0, true)
		})
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		euCur, err := reader.Head(ctx, "eu-west-1", byRegion["eu-west-1"].Bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		usCur, err := reader.Head(ctx, "us-east-1", us.Bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		euOrigin := replication.DestinationOrigin("eu-west-1", euCur)
		markerWins := replication.Wins(replication.DestinationOrigin("us-east-1", usCur), euOrigin)
		start := make(chan struct{})
		wg.Go(func() { <-start; apply("eu-west-1", euBody) })
		wg.Go(func() { <-start; apply("us-east-1", usBody) })
		close(start)
		wg.Wait()
		holdings := map[string]string{}
		ok := true
		for _, r := range regions {
			v, err := reader.Head(ctx, r, byRegion[r].Bucket, key)
			if err != nil {
				t.Fatal(err)
			}
			if v.DeleteMarker {
				holdings[r] = "delete marker"
				ok = ok && markerWins
				continue
			}
			o := replication.DestinationOrigin(r, v)
			holdings[r] = o.Region + "/" + o.VersionID
			ok = ok && !markerWins && o.Same(euOrigin)
		}
		if !ok {
			diverged++
			t.Errorf("round %d key %q: delete marker wins %v (eu write %s), Regions hold %v", round, key, markerWins, euOrigin.VersionID, holdings)
		}
	}
	t.Logf("rounds that diverged out of %d: %d", rounds, diverged)
}
