package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	sharedconfig "github.com/mrap-engine/mrap/shared/config"
)

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

// ClientsFromConfig builds one S3 client per member Region from cfg (see NewClients).
func ClientsFromConfig(cfg aws.Config, members []sharedconfig.Member, endpoints map[string]string, maxAttempts int, optFns ...func(*s3.Options)) map[string]S3API {
	out := make(map[string]S3API, len(members))
	for _, m := range members {
		endpoint := endpoints[m.Region]
		out[m.Region] = s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.Region = m.Region
			if maxAttempts > 0 {
				o.RetryMaxAttempts = maxAttempts
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
	return out
}
