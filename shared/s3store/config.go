package s3store

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	sharedconfig "github.com/mrap-engine/mrap/shared/config"
)

// Config is the part of every repairing function's environment that says where the member
// buckets are and how to copy between them (docs/contracts.md: MRAP_MEMBERS, MRAP_ENDPOINTS,
// MRAP_MAX_ATTEMPTS, MRAP_MULTIPART_THRESHOLD, MRAP_PART_SIZE, MRAP_COPY_CONCURRENCY,
// MRAP_STORAGE_CLASS, MRAP_KMS_KEYS, MRAP_UNGUARDED_WRITES).
type Config struct {
	Members     []sharedconfig.Member
	Endpoints   map[string]string // empty on AWS
	MaxAttempts int
	Store       Options
}

// LoadConfig reads the member-bucket settings through env; problems are recorded in env.
// Without endpoints (AWS) copies are server-side and a 404 is trusted; with endpoints
// (S3-compatible stores, the local Regions) copies stream and delete markers are confirmed by
// listing. Checksum trailers are used only when every endpoint is HTTPS.
func LoadConfig(env *sharedconfig.Env) Config {
	c := Config{
		Members:     env.Members("MRAP_MEMBERS"),
		Endpoints:   env.Map("MRAP_ENDPOINTS"),
		MaxAttempts: int(env.Int64("MRAP_MAX_ATTEMPTS", 5)),
	}
	c.Store = Options{
		SameService:        len(c.Endpoints) == 0,
		TrustNotFound:      len(c.Endpoints) == 0,
		TrailingChecksums:  allHTTPS(c.Endpoints),
		MultipartThreshold: env.Int64("MRAP_MULTIPART_THRESHOLD", 0),
		PartSize:           env.Int64("MRAP_PART_SIZE", 0),
		Concurrency:        int(env.Int64("MRAP_COPY_CONCURRENCY", 0)),
		StorageClass:       env.String("MRAP_STORAGE_CLASS", ""),
		KMSKeys:            env.Map("MRAP_KMS_KEYS"),
		UnguardedWrites:    env.Bool("MRAP_UNGUARDED_WRITES", false),
	}
	regions := map[string]bool{}
	for _, m := range c.Members {
		regions[m.Region] = true
	}
	for name, m := range map[string]map[string]string{"MRAP_ENDPOINTS": c.Endpoints, "MRAP_KMS_KEYS": c.Store.KMSKeys} {
		for r := range m {
			if !regions[r] {
				env.Fail(name, "%q is not a member Region", r)
			}
		}
	}
	if len(c.Endpoints) > 0 && len(c.Endpoints) != len(c.Members) {
		env.Fail("MRAP_ENDPOINTS", "set an endpoint for every member Region or for none")
	}
	if c.MaxAttempts < 1 {
		env.Fail("MRAP_MAX_ATTEMPTS", "want at least 1, got %d", c.MaxAttempts)
	}
	return c
}

// Open builds the member clients (the SDK configuration is loaded once, from the default
// credential chain) and the store.
func Open(ctx context.Context, c Config) (map[string]S3API, *Store, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS config: %w", err)
	}
	return OpenFromConfig(awsCfg, c)
}

// OpenFromConfig builds the member clients from awsCfg (StaticConfig for the local Regions)
// and the store.
func OpenFromConfig(awsCfg aws.Config, c Config) (map[string]S3API, *Store, error) {
	clients := ClientsFromConfig(awsCfg, c.Members, c.Endpoints, c.MaxAttempts)
	store, err := New(clients, c.Store)
	if err != nil {
		return nil, nil, err
	}
	return clients, store, nil
}

// allHTTPS reports whether every endpoint is HTTPS (true for none: AWS endpoints are).
func allHTTPS(endpoints map[string]string) bool {
	for _, e := range endpoints {
		if !strings.HasPrefix(strings.ToLower(e), "https://") {
			return false
		}
	}
	return true
}
