package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

func startRegion(t *testing.T, region string) *s3server.Server {
	t.Helper()
	return s3servertest.Start(t, s3server.Options{Region: region})
}

const trickyKey = "dir/a b+c%d:e/café 日本😀.txt"

type written struct {
	body     []byte
	version  string
	metadata map[string]string
}

func putSource(t *testing.T, c *s3.Client, bucket, key string, body []byte, alg types.ChecksumAlgorithm) written {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		Metadata:    map[string]string{"owner": "team-a", "purpose": "replication test"},
		ContentType: aws.String("text/plain; charset=utf-8"), ContentEncoding: aws.String("identity"),
		ContentLanguage: aws.String("fr-CH"), ContentDisposition: aws.String(`attachment; filename="x.txt"`),
		CacheControl: aws.String("max-age=60"), Tagging: aws.String("team=a&tier=gold%2Bplus"),
		Expires:           aws.Time(time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC)),
		ChecksumAlgorithm: alg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return written{body: body, version: aws.ToString(out.VersionId), metadata: map[string]string{"owner": "team-a", "purpose": "replication test"}}
}

// assertReplica checks the destination's current version against the source write.
func assertReplica(t *testing.T, c *s3.Client, bucket, key string, src written, wantChecksum bool) {
	t.Helper()
	ctx := context.Background()
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("get replica: %v", err)
	}
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(body, src.body) {
		t.Errorf("replica body differs (%d bytes, want %d)", len(body), len(src.body))
	}
	want := maps.Clone(src.metadata)
	want[replication.MarkOriginRegion] = "eu-west-1"
	want[replication.MarkOriginVersionID] = src.version
	for k, v := range want {
		if get.Metadata[k] != v {
			t.Errorf("replica metadata %s = %q, want %q (all: %v)", k, get.Metadata[k], v, get.Metadata)
		}
	}
	if get.Metadata[replication.MarkOriginTime] == "" {
		t.Error("replica lacks the origin time mark")
	}
	for name, pair := range map[string][2]string{
		"Content-Type": {aws.ToString(get.ContentType), "text/plain; charset=utf-8"}, "Content-Language": {aws.ToString(get.ContentLanguage), "fr-CH"},
		"Content-Disposition": {aws.ToString(get.ContentDisposition), `attachment; filename="x.txt"`}, "Cache-Control": {aws.ToString(get.CacheControl), "max-age=60"},
		"Content-Encoding": {aws.ToString(get.ContentEncoding), "identity"},
		"Expires":          {aws.ToString(get.ExpiresString), "Thu, 01 Jan 2037 00:00:00 GMT"},
	} {
		if pair[0] != pair[1] {
			t.Errorf("replica %s = %q, want %q", name, pair[0], pair[1])
		}
	}
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tag := range tags.TagSet {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if !maps.Equal(got, map[string]string{"team": "a", "tier": "gold+plus"}) {
		t.Errorf("replica tags = %v", got)
	}
	if wantChecksum && aws.ToString(get.ChecksumCRC32C) == "" {
		t.Errorf("replica has no CRC32C checksum")
	}
}

func headSource(t *testing.T, store *s3store.Store, bucket, key string) replication.Version {
	t.Helper()
	v, err := store.Head(context.Background(), "eu-west-1", bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStreamingCopyBetweenTwoRegions(t *testing.T) {
	eu, us := startRegion(t, "eu-west-1"), startRegion(t, "us-east-1")
	clients := map[string]s3store.S3API{"eu-west-1": eu.Client(), "us-east-1": us.Client()}
	big := make([]byte, 12*s3store.MiB+123)
	_, _ = rand.Read(big)
	tests := []struct {
		name string
		body []byte
		alg  types.ChecksumAlgorithm
		opts s3store.Options
	}{
		{name: "single PUT carries the source checksum", body: []byte("hello, replica"), alg: types.ChecksumAlgorithmCrc32c},
		{name: "multipart above the threshold", body: big, alg: types.ChecksumAlgorithmCrc32c, opts: s3store.Options{MultipartThreshold: 5 * s3store.MiB, PartSize: 5 * s3store.MiB, Concurrency: 2}},
		{name: "empty object", body: []byte{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := trickyKey + string(rune('0'+i))
			store, err := s3store.New(clients, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			src := putSource(t, eu.Client(), eu.Bucket, key, tt.body, tt.alg)
			v := headSource(t, store, eu.Bucket, key)
			n, err := store.Copy(context.Background(), replication.CopyRequest{
				SourceRegion: "eu-west-1", SourceBucket: eu.Bucket, Key: key, Source: v, DestRegion: "us-east-1", DestBucket: us.Bucket,
				Marks: replication.Origin{Region: "eu-west-1", VersionID: src.version, Time: v.LastModified}.Marks(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(tt.body)) {
				t.Errorf("copied %d bytes, want %d", n, len(tt.body))
			}
			assertReplica(t, us.Client(), us.Bucket, key, src, tt.alg != "" && len(tt.body) < 5*s3store.MiB)
		})
	}
}

func TestServerSideCopyWithinOneService(t *testing.T) {
	eu := startRegion(t, "eu-west-1")
	ctx := context.Background()
	c := eu.Client()
	dst := "mrap-second-bucket"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(dst)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(dst), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	// Both "Regions" are one versitygw service here: exactly the SameService situation.
	clients := map[string]s3store.S3API{"eu-west-1": c, "us-east-1": c}
	big := make([]byte, 11*s3store.MiB)
	_, _ = rand.Read(big)
	for _, tt := range []struct {
		name string
		body []byte
		opts s3store.Options
	}{
		{name: "CopyObject of the exact version", body: []byte("server-side"), opts: s3store.Options{SameService: true}},
		{name: "UploadPartCopy above the threshold", body: big, opts: s3store.Options{SameService: true, MultipartThreshold: 5 * s3store.MiB, PartSize: 5 * s3store.MiB, Concurrency: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, err := s3store.New(clients, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			key := trickyKey + tt.name
			src := putSource(t, c, eu.Bucket, key, tt.body, "")
			v := headSource(t, store, eu.Bucket, key)
			// A newer write must not leak into the copy: the version id pins the source.
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(eu.Bucket), Key: aws.String(key), Body: strings.NewReader("newer")}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Copy(ctx, replication.CopyRequest{
				SourceRegion: "eu-west-1", SourceBucket: eu.Bucket, Key: key, Source: v, DestRegion: "us-east-1", DestBucket: dst,
				Marks: replication.Origin{Region: "eu-west-1", VersionID: src.version, Time: v.LastModified}.Marks(),
			}); err != nil {
				t.Fatal(err)
			}
			assertReplica(t, c, dst, key, src, false)
		})
	}
}

func TestReadsAgainstVersitygw(t *testing.T) {
	eu := startRegion(t, "eu-west-1")
	ctx := context.Background()
	c := eu.Client()
	store, err := s3store.New(map[string]s3store.S3API{"eu-west-1": c}, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := eu.Bucket
	for _, k := range []string{"a", "a.b", "ab", "a"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.PutDeleteMarker(ctx, "eu-west-1", b, "a"); err != nil {
		t.Fatal(err)
	}
	cur, err := store.Head(ctx, "eu-west-1", b, "a")
	if err != nil || !cur.Exists || !cur.DeleteMarker || cur.VersionID == "" || cur.LastModified.IsZero() {
		t.Errorf("Head of a deleted key = %+v, %v; want the current delete marker", cur, err)
	}
	absent, err := store.Head(ctx, "eu-west-1", b, "nothing-here")
	if err != nil || absent.Exists {
		t.Errorf("Head of an absent key = %+v, %v; want Exists false", absent, err)
	}
	versions, err := store.ListVersions(ctx, "eu-west-1", b, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 3 || !versions[0].DeleteMarker || versions[1].DeleteMarker {
		t.Errorf("ListVersions(a) = %+v, want the marker then two versions of exactly a", versions)
	}
	_, err = store.HeadVersion(ctx, "eu-west-1", b, "a", "01NOSUCHVERSION0000000000")
	if !errors.Is(err, replication.ErrNotFound) {
		t.Errorf("HeadVersion of a missing version = %v, want ErrNotFound", err)
	}
	if err := store.DeleteVersion(ctx, "eu-west-1", b, "a", versions[2].VersionID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.HeadVersion(ctx, "eu-west-1", b, "a", versions[2].VersionID); !errors.Is(err, replication.ErrNotFound) {
		t.Errorf("deleted version still readable: %v", err)
	}
	_, err = s3store.New(map[string]s3store.S3API{"eu-west-1": c}, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Copy(ctx, replication.CopyRequest{SourceRegion: "eu-west-1", SourceBucket: b, Key: "ab", Source: replication.Version{VersionID: "01NOSUCHVERSION0000000000", Size: 2},
		DestRegion: "eu-west-1", DestBucket: "no-such-bucket"})
	if err == nil {
		t.Error("copy of a missing version succeeded")
	}
}

// Concurrent streamed multipart copies share one Store's part buffers (memory bound per
// function instance) and still all complete.
func TestConcurrentMultipartCopiesShareBuffers(t *testing.T) {
	eu, us := startRegion(t, "eu-west-1"), startRegion(t, "us-east-1")
	store, err := s3store.New(map[string]s3store.S3API{"eu-west-1": eu.Client(), "us-east-1": us.Client()},
		s3store.Options{MultipartThreshold: 5 * s3store.MiB, PartSize: 5 * s3store.MiB, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := make([]byte, 11*s3store.MiB)
	_, _ = rand.Read(body)
	errs := make(chan error, 4)
	for i := range 4 {
		key := "concurrent/" + string(rune('a'+i))
		src := putSource(t, eu.Client(), eu.Bucket, key, body, "")
		v := headSource(t, store, eu.Bucket, key)
		go func() {
			_, err := store.Copy(ctx, replication.CopyRequest{SourceRegion: "eu-west-1", SourceBucket: eu.Bucket, Key: key, Source: v,
				DestRegion: "us-east-1", DestBucket: us.Bucket, Marks: replication.Origin{Region: "eu-west-1", VersionID: src.version, Time: v.LastModified}.Marks()})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i := range 4 {
		key := "concurrent/" + string(rune('a'+i))
		get, err := us.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if !bytes.Equal(got, body) {
			t.Errorf("%s: replica differs", key)
		}
	}
}

// A source uploaded in parts has a composite checksum, which a single PUT cannot carry whole.
// Over plain HTTP (no trailers) the replica is still written, byte for byte.
func TestStreamedCopyOfMultipartSourceKeepsChecksumAlgorithm(t *testing.T) {
	eu, us := startRegion(t, "eu-west-1"), startRegion(t, "us-east-1")
	ctx := context.Background()
	c := eu.Client()
	key := "parts/composite.bin"
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(eu.Bucket), Key: aws.String(key), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 6*s3store.MiB)
	_, _ = rand.Read(body)
	var parts []types.CompletedPart
	for i, chunk := range [][]byte{body[:5*s3store.MiB], body[5*s3store.MiB:]} {
		n := int32(i + 1)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(eu.Bucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(n),
			Body: bytes.NewReader(chunk), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32C: out.ChecksumCRC32C})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(eu.Bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	store, err := s3store.New(map[string]s3store.S3API{"eu-west-1": c, "us-east-1": us.Client()}, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := headSource(t, store, eu.Bucket, key)
	if _, err := store.Copy(ctx, replication.CopyRequest{SourceRegion: "eu-west-1", SourceBucket: eu.Bucket, Key: key, Source: v,
		DestRegion: "us-east-1", DestBucket: us.Bucket, Marks: replication.Origin{Region: "eu-west-1", VersionID: v.VersionID, Time: v.LastModified}.Marks()}); err != nil {
		t.Fatal(err)
	}
	h, err := us.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(h.ContentLength) != int64(len(body)) || aws.ToString(h.ETag) == "" {
		t.Errorf("replica: %d bytes, want %d", aws.ToInt64(h.ContentLength), len(body))
	}
	// With the algorithm asked for, a buffered (seekable) body up to the part size lets the SDK
	// compute the checksum before sending: no trailer, so plain HTTP works too.
	trailing, err := s3store.New(map[string]s3store.S3API{"eu-west-1": c, "us-east-1": us.Client()}, s3store.Options{TrailingChecksums: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = trailing.Copy(ctx, replication.CopyRequest{SourceRegion: "eu-west-1", SourceBucket: eu.Bucket, Key: key, Source: v,
		DestRegion: "us-east-1", DestBucket: us.Bucket, Marks: replication.Origin{Region: "eu-west-1", VersionID: v.VersionID, Time: v.LastModified}.Marks()})
	if err != nil {
		t.Errorf("checksum of a buffered body over HTTP: %v, want it computed up front", err)
	}
}
