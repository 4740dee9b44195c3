package globalendpoint_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkPut compares a 4 KiB PutObject sent straight to a Region's versitygw with the
// same request through the global endpoint (signature check, routing, re-signing, fault
// proxy): the difference is what the local MRAP layer costs.
func BenchmarkPut(b *testing.B) {
	f := start(b)
	body := bytes.Repeat([]byte("x"), 4096)
	for _, bc := range []struct {
		name   string
		client *s3.Client
		bucket string
	}{
		{"direct", f.regions[0].Client(), f.regions[0].Bucket},
		{"global-endpoint", client(f.endpoint, sk), alias},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for i := 0; b.Loop(); i++ {
				_, err := bc.client.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String(bc.bucket), Key: aws.String(fmt.Sprintf("bench/%d", i%100)), Body: bytes.NewReader(body)})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
