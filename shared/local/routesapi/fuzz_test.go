package routesapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

const routesPath = "/v20180820/mrap/instances/" + alias + "/routes"

// fuzzRequest builds the request a fuzz input describes; ok is false when net/http itself
// would refuse to build it (an invalid method or URL never reaches a handler).
func fuzzRequest(method, target, headers string, body []byte) (*http.Request, bool) {
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	r, err := http.NewRequest(method, "http://control.localhost"+target, bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	sc := bufio.NewScanner(strings.NewReader(headers))
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if found && k != "" {
			r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return r, true
}

// sign signs r with the local credentials (as the SDKs and the CLI do: payload hash in
// X-Amz-Content-Sha256), so the fuzzer reaches the parts of the handler behind the check. It
// reports false when the SDK's signer refuses the request (nothing a client could send).
func sign(r *http.Request, body []byte) bool {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	r.Header.Del("Authorization")
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
		r, hash, "s3", "us-east-1", time.Now())
	return err == nil
}

// FuzzRoutesAPI sends arbitrary method, path, headers and body (signed with the local
// credentials or not) to the routes API and checks what it promises: it never panics; it
// answers 200 or a 4xx with an S3-style XML error naming a code and a message; only a 200
// answer to a signed PATCH changes the routing table; the table always keeps one active
// Region and the file in the data folder always holds exactly the table.
func FuzzRoutesAPI(f *testing.F) {
	get := "x-amz-account-id: " + account
	body := func(routes ...string) []byte {
		return []byte(`<SubmitMultiRegionAccessPointRoutesRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><RouteUpdates>` +
			strings.Join(routes, "") + `</RouteUpdates></SubmitMultiRegionAccessPointRoutesRequest>`)
	}
	route := func(region, dial string) string {
		return "<Route><Region>" + region + "</Region><TrafficDialPercentage>" + dial + "</TrafficDialPercentage></Route>"
	}
	escapedARN := "/v20180820/mrap/instances/arn%3Aaws%3As3%3A%3A" + account + "%3Aaccesspoint%2F" + alias + "/routes"
	for _, seed := range []struct {
		method, path, headers string
		body                  []byte
		signed                bool
	}{
		{"GET", routesPath, get, nil, true},
		{"GET", escapedARN, get, nil, true},
		{"PATCH", routesPath, get, body(route("us-east-1", "0")), true},
		{"PATCH", escapedARN, get, body(route("eu-west-1", "0"), "<Route><Bucket>b-apse2</Bucket><TrafficDialPercentage>0</TrafficDialPercentage></Route>"), true},
		{"PATCH", routesPath, get, body(route("us-east-1", "0"), route("eu-west-1", "0"), route("ap-southeast-2", "0")), true},
		{"PATCH", routesPath, get, body(route("us-east-1", "-1")), true},
		{"PATCH", routesPath, get, body(route("us-east-1", "99999999999999999999")), true},
		{"PATCH", routesPath, get, body(route("us-east-1", "abc")), true},
		{"PATCH", routesPath, get, body("<Route><Region>us-east-1</Region></Route>"), true},
		{"PATCH", routesPath, get, body(route("nowhere-1", "0")), true},
		{"PATCH", routesPath, get, body(), true},
		{"PATCH", routesPath, get, []byte("<SubmitMultiRegionAccessPointRoutesRequest><RouteUpdates><Route>"), true},
		{"PATCH", routesPath, get, []byte(`{"RouteUpdates":[{"Region":"us-east-1","TrafficDialPercentage":0}]}`), true},
		{"PATCH", routesPath, get, body(route("us-east-1", "0")), false},
		{"PATCH", routesPath, "x-amz-account-id: 999999999999", body(route("us-east-1", "0")), true},
		{"PATCH", routesPath, get + "\nAuthorization: AWS4-HMAC-SHA256 Credential=x/y, Signature=z", body(route("us-east-1", "0")), false},
		{"DELETE", routesPath, get, nil, true},
		{"POST", routesPath, get, body(route("us-east-1", "0")), true},
		{"GET", "/v20180820/mrap/instances/%zz/routes", get, nil, true},
		{"GET", "/v20180820/mrap/instances//routes", get, nil, true},
		{"GET", "/v20180820/mrap/instances/other.mrap/routes", get, nil, true},
		{"GET", "/", "", nil, false},
		{"PATCH", routesPath + "?x=1", get, body(route("us-east-1", "100")), true},
	} {
		f.Add(seed.method, seed.path, seed.headers, seed.body, seed.signed)
	}
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte, signed bool) {
		path := filepath.Join(t.TempDir(), "routes.json")
		tab, err := routesapi.Open(path, members)
		if err != nil {
			t.Fatal(err)
		}
		h := routesapi.New(tab, routesapi.Identity{AccountID: account, ARN: arn, Alias: alias},
			routesapi.Options{Verifier: sigv4verify.New(ak, sk)})
		r, ok := fuzzRequest(method, target, headers, body)
		if !ok {
			return
		}
		if signed && !sign(r, body) {
			return
		}
		before := tab.Routes()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		after := tab.Routes()
		switch {
		case w.Code == http.StatusOK:
		case w.Code >= 400 && w.Code < 500:
			var e struct {
				Code    string `xml:"Error>Code"`
				Message string `xml:"Error>Message"`
			}
			if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("HTTP %d without an XML error code and message (%v): %q", w.Code, err, w.Body.String())
			}
		default:
			t.Fatalf("HTTP %d for %s %s: %s", w.Code, method, target, w.Body.String())
		}
		changed := !slices.Equal(before, after)
		if changed && !(signed && w.Code == http.StatusOK && r.Method == http.MethodPatch) {
			t.Fatalf("%s %s (signed %v) answered %d and changed the routes %v -> %v", method, target, signed, w.Code, before, after)
		}
		if !slices.ContainsFunc(after, func(r routesapi.Route) bool { return r.Dial > 0 }) {
			t.Fatalf("no active Region left: %v", after)
		}
		for _, rt := range after {
			if rt.Dial < 0 || rt.Dial > 100 {
				t.Fatalf("dial out of range: %v", after)
			}
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var saved struct {
			Routes []routesapi.Route `json:"routes"`
		}
		if err := json.Unmarshal(raw, &saved); err != nil || !slices.Equal(saved.Routes, after) {
			t.Fatalf("saved routes %s (%v) differ from the table %v", raw, err, after)
		}
	})
}

// The fuzz harness itself must reach the table: a signed PATCH built from a fuzz input
// changes the routes, the same one unsigned does not.
func TestFuzzHarnessSignsLikeAClient(t *testing.T) {
	for _, tt := range []struct {
		name   string
		signed bool
		want   int
		dials  string
	}{
		{"signed PATCH is applied", true, http.StatusOK, "011"},
		{"unsigned PATCH is refused", false, http.StatusForbidden, "111"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := routesapi.Open(filepath.Join(t.TempDir(), "routes.json"), members)
			if err != nil {
				t.Fatal(err)
			}
			h := routesapi.New(tab, routesapi.Identity{AccountID: account, ARN: arn, Alias: alias},
				routesapi.Options{Verifier: sigv4verify.New(ak, sk)})
			body := []byte(`<SubmitMultiRegionAccessPointRoutesRequest><RouteUpdates><Route><Region>us-east-1</Region><TrafficDialPercentage>0</TrafficDialPercentage></Route></RouteUpdates></SubmitMultiRegionAccessPointRoutesRequest>`)
			r, ok := fuzzRequest("PATCH", routesPath, "x-amz-account-id: "+account, body)
			if !ok {
				t.Fatal("fuzzRequest refused a valid request")
			}
			if tt.signed && !sign(r, body) {
				t.Fatal("the SDK signer refused a valid request")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if got := dials(tab.Routes()); got != tt.dials {
				t.Errorf("dials = %s, want %s", got, tt.dials)
			}
		})
	}
}
