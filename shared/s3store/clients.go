package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	sharedconfig "github.com/mrap-engine/mrap/shared/config"
)

// NewClient builds the S3 client of one Region from cfg; it is the one place the functions,
// mrapctl and the local runtime build an S3 client. region sets the client's Region (empty
// keeps cfg's). A non-empty endpoint (an S3-compatible store, a local Region, a local global
// endpoint) replaces AWS's endpoint resolution and turns on path-style addressing. optFns
// adjust the options afterwards (retryer, HTTP client, attempts).
func NewClient(cfg aws.Config, region, endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if region != "" {
			o.Region = region
		}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
		for _, fn := range optFns {
			fn(o)
		}
	})
}

// StaticConfig is the SDK configuration of a store reached with fixed credentials (the local
// Regions and the local global endpoint): no credential chain, no shared config files.
func StaticConfig(accessKeyID, secretAccessKey string) aws.Config {
	return aws.Config{Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, "")}
}

// NewClients builds one S3 client per member Region from the default credential chain,
// loaded once. A Region with an endpoint in endpoints (S3-compatible stores, the local
// Regions) gets that endpoint with path-style addressing. maxAttempts sets the standard
// retryer's attempts (throttling, 5xx, timeouts; backoff with jitter); 0 keeps the SDK
// default of 3. optFns adjust every client's options.
func NewClients(ctx context.Context, members []sharedconfig.Member, endpoints map[string]string, maxAttempts int, optFns ...func(*s3.Options)) (map[string]S3API, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return ClientsFromConfig(cfg, members, endpoints, maxAttempts, optFns...), nil
}

// ClientsFromConfig builds one S3 client per member Region from cfg with NewClient (see
// NewClients).
func ClientsFromConfig(cfg aws.Config, members []sharedconfig.Member, endpoints map[string]string, maxAttempts int, optFns ...func(*s3.Options)) map[string]S3API {
	out := make(map[string]S3API, len(members))
	for _, m := range members {
		out[m.Region] = NewClient(cfg, m.Region, endpoints[m.Region], func(o *s3.Options) {
			if maxAttempts > 0 {
				o.RetryMaxAttempts = maxAttempts
			}
			for _, fn := range optFns {
				fn(o)
			}
		})
	}
	return out
}
