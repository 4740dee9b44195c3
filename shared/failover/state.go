package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/shared/routing"
)

// State is what the engine remembers between invocations; the routes alone cannot carry
// it. It is small, written only by the failover function (reserved concurrency 1).
type State struct {
	// LastChange is when the engine last changed the routes (the cooldown counts from it).
	LastChange time.Time `json:"lastChange,omitzero"`
	// LastReason is the reason of that change, for operators reading the object.
	LastReason string `json:"lastReason,omitempty"`
	// Overrides are the standing effects of operator commands.
	Overrides routing.Overrides `json:"overrides,omitzero"`
	// LastCommandID and LastCommandAt identify the last command applied, so a replayed or
	// older command event is not applied again.
	LastCommandID string    `json:"lastCommandId,omitempty"`
	LastCommandAt time.Time `json:"lastCommandAt,omitzero"`
	// HealthIssues are the latest AWS Health issues for S3, by affected Region.
	HealthIssues map[string]HealthIssue `json:"healthIssues,omitempty"`
}

// HealthIssue is the latest AWS Health issue for S3 in a Region.
type HealthIssue struct {
	EventARN    string    `json:"eventArn"`
	Open        bool      `json:"open"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Description string    `json:"description,omitempty"`
}

// StateStore loads and saves the engine's State.
type StateStore interface {
	Load(ctx context.Context) (State, error)
	Save(ctx context.Context, s State) error
}

// StateObjectAPI is the part of *s3.Client the S3 state store calls.
type StateObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// S3StateStore keeps the State as one JSON object in a bucket of the home Region.
type S3StateStore struct {
	client StateObjectAPI
	bucket string
	key    string
}

var _ StateStore = (*S3StateStore)(nil)

// NewS3StateStore returns a store of the object bucket/key.
func NewS3StateStore(client StateObjectAPI, bucket, key string) *S3StateStore {
	return &S3StateStore{client: client, bucket: bucket, key: key}
}

// Load returns the stored State, or the zero State when there is none yet.
func (s *S3StateStore) Load(ctx context.Context) (State, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return State{}, nil
		}
		return State{}, fmt.Errorf("load state s3://%s/%s: %w", s.bucket, s.key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return State{}, fmt.Errorf("load state s3://%s/%s: %w", s.bucket, s.key, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("load state s3://%s/%s: %w", s.bucket, s.key, err)
	}
	return st, nil
}

// Save writes st.
func (s *S3StateStore) Save(ctx context.Context, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.key), Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("save state s3://%s/%s: %w", s.bucket, s.key, err)
	}
	return nil
}

// MemoryStateStore keeps the State in memory, for tests and single-process runtimes.
type MemoryStateStore struct {
	State State
	// LoadErr and SaveErr, when set, are returned by Load and Save.
	LoadErr, SaveErr error
	Saves            int
}

// Load returns the State held.
func (m *MemoryStateStore) Load(context.Context) (State, error) { return m.State, m.LoadErr }

// Save replaces the State held.
func (m *MemoryStateStore) Save(_ context.Context, s State) error {
	if m.SaveErr != nil {
		return m.SaveErr
	}
	m.State = s
	m.Saves++
	return nil
}
