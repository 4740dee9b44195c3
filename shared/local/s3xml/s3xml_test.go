package s3xml

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/smithy-go"
)

// TestErrorsReachTheSDKAsAPIErrors answers every call with an error document and checks
// that the real SDK client parses the code and message out of it, for S3 and S3 Control.
func TestErrorsReachTheSDKAsAPIErrors(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AK", "SK", "")
	tests := []struct {
		name  string
		write func(http.ResponseWriter)
		call  func(ctx context.Context, url string) error
	}{
		{"S3 error", func(w http.ResponseWriter) {
			WriteError(w, http.StatusServiceUnavailable, "SlowDown", "reduce your request rate")
		}, func(ctx context.Context, url string) error {
			c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url), UsePathStyle: true, Credentials: creds, RetryMaxAttempts: 1})
			_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("b")})
			return err
		}},
		{"S3 Control error", func(w http.ResponseWriter) {
			WriteControlError(w, http.StatusServiceUnavailable, "SlowDown", "reduce your request rate", "REQ1")
		}, func(ctx context.Context, url string) error {
			// s3control puts the account id in front of the host: send every request to url.
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				r.URL.Host = strings.TrimPrefix(url, "http://")
				return http.DefaultTransport.RoundTrip(r)
			})}
			c := s3control.New(s3control.Options{Region: "us-west-2", BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1, HTTPClient: hc})
			_, err := c.GetMultiRegionAccessPointRoutes(ctx, &s3control.GetMultiRegionAccessPointRoutesInput{AccountId: aws.String("111122223333"), Mrap: aws.String("a.mrap")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tt.write(w) }))
			defer srv.Close()
			err := tt.call(context.Background(), srv.URL)
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("error %v is not an API error", err)
			}
			if api.ErrorCode() != "SlowDown" || api.ErrorMessage() != "reduce your request rate" {
				t.Errorf("code %q message %q, want SlowDown and the message", api.ErrorCode(), api.ErrorMessage())
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWriteSetsTheDocumentHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, http.StatusNotFound, "NoSuchBucket", "no such bucket")
	body := rec.Body.String()
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/xml" ||
		rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("status %d, headers %v, body %d bytes", rec.Code, rec.Header(), len(body))
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>`
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

func TestWriteAnswers500WhenTheDocumentDoesNotMarshal(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusOK, map[string]string{"a": "b"}) // maps do not marshal to XML
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
}
