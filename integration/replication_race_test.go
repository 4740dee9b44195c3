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
	"github.com/mrap-engine/mrap/shared/localregion"
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
	byRegion := map[string]*localregion.Server{}
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
func ruleWinner(t *testing.T, byRegion map[string]*localregion.Server, key string, changes map[string]events.ObjectChange) replication.Origin {
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
