package sigv4verify_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func signed(t *testing.T, key, secret string, at time.Time, mutate func(*http.Request)) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9/bucket/a%20b?list-type=2", nil)
	r.Header.Set("X-Amz-Content-Sha256", emptySHA)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r, emptySHA, "s3", "eu-west-1", at)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = r.URL.Host
	if mutate != nil {
		mutate(r)
	}
	return r
}

func TestVerify(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		req      *http.Request
		wantCode string // "" = valid
	}{
		{"valid", signed(t, "AK", "SK", now, nil), ""},
		{"unsigned", signed(t, "AK", "SK", now, func(r *http.Request) { r.Header.Del("Authorization") }), sigv4verify.CodeAccessDenied},
		{"other access key", signed(t, "OTHER", "SK", now, nil), sigv4verify.CodeInvalidAccessKeyID},
		{"wrong secret", signed(t, "AK", "nope", now, nil), sigv4verify.CodeSignatureDoesNotMatch},
		{"path changed after signing", signed(t, "AK", "SK", now, func(r *http.Request) { r.URL.Path = "/bucket/other" }), sigv4verify.CodeSignatureDoesNotMatch},
		{"query changed after signing", signed(t, "AK", "SK", now, func(r *http.Request) { r.URL.RawQuery = "list-type=1" }), sigv4verify.CodeSignatureDoesNotMatch},
		{"too old", signed(t, "AK", "SK", now.Add(-time.Hour), nil), "RequestTimeTooSkewed"},
	}
	v := sigv4verify.New("AK", "SK")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := v.Verify(tt.req)
			if tt.wantCode == "" {
				if err != nil || res.Region != "eu-west-1" || res.Service != "s3" {
					t.Fatalf("Verify = %+v, %v; want eu-west-1/s3", res, err)
				}
				return
			}
			e, ok := sigv4verify.AsError(err)
			if !ok || e.Code != tt.wantCode {
				t.Errorf("Verify error = %v, want code %s", err, tt.wantCode)
			}
			if ok && strings.TrimSpace(e.Message) == "" {
				t.Error("error without a message")
			}
		})
	}
}
