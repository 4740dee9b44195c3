package sigv4verify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzVerify builds a request from arbitrary method, path and query, headers and body. As
// sent (with whatever Authorization the input carries) it must never verify: nobody without
// the secret can sign. Signed by the SDK's signer with the local key, as a client does, it
// must verify, its path escaped once (the S3 rule) or twice (a client given a static endpoint).
func FuzzVerify(f *testing.F) {
	const ak, sk = "LOCALKEY", "localsecret"
	f.Add("PUT", "/bucket/a%20b+c.txt?partNumber=1&uploadId=x", "Content-Type: text/plain\nX-Amz-Meta-A: 1", []byte("hello"), false)
	f.Add("GET", "/v20180820/mrap/instances/arn%3Aaws%3As3%3A%3A1%3Aaccesspoint%2Fa.mrap/routes", "x-amz-account-id: 123456789012", []byte{}, false)
	f.Add("GET", "/b/k", "Authorization: AWS4-HMAC-SHA256 Credential=LOCALKEY/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\nX-Amz-Date: 20260101T000000Z", []byte{}, false)
	f.Add("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=LOCALKEY%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", []byte{}, false)
	f.Add("POST", "/b/%E2%82%AC/..//x?delete", "Content-MD5: x", []byte("<Delete/>"), true)
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte, escapeTwice bool) {
		v := New(ak, sk)
		r, err := http.NewRequest(method, "http://127.0.0.1:9000/"+strings.TrimPrefix(target, "/"), bytes.NewReader(body))
		if err != nil {
			return
		}
		sc := bufio.NewScanner(strings.NewReader(headers))
		for sc.Scan() {
			if k, val, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) != "" {
				r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(val))
			}
		}
		if _, err := v.Verify(r); err == nil {
			t.Fatalf("an unsigned request verified: %s %s %v", method, target, r.Header)
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}

		r, _ = http.NewRequest(method, "http://127.0.0.1:9000/"+strings.TrimPrefix(target, "/"), bytes.NewReader(body))
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
			r.Header.Del(h)
		}
		r.URL.RawQuery = strings.NewReplacer("X-Amz-", "x-other-").Replace(r.URL.RawQuery) // not a presigned URL
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		r.Header.Set("X-Amz-Content-Sha256", hash)
		err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = !escapeTwice }).
			SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, r, hash, "s3", "us-east-1", time.Now())
		if err != nil {
			return // nothing a client could send
		}
		if _, err := v.Verify(r); err != nil {
			t.Fatalf("a request signed with the local key was refused: %v (%s %s)", err, method, r.URL.String())
		}
	})
}
