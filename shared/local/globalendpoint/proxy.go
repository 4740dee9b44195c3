// Package globalendpoint is the local stand-in for a Multi-Region Access Point's global
// endpoint: an S3 API reverse proxy that sends each request to the closest Region whose
// traffic dial is 100, with the bucket rewritten to that Region's bucket and the request
// re-signed for that Region, so an unmodified S3 client keeps working through a failover.
package globalendpoint

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/mrap-engine/mrap/shared/local/s3xml"
	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

// RegionHeader is the response header naming the Region that served a request (local only).
const RegionHeader = "X-Mrap-Local-Region"

// Target is one Region's S3 endpoint and member bucket.
type Target struct {
	Region   string
	Endpoint string // http://127.0.0.1:PORT
	Bucket   string
}

// Dials reports a Region's traffic dial; *routesapi.Table satisfies it.
type Dials interface {
	Dial(region string) (int, bool)
}

// Options configure a Proxy.
type Options struct {
	// Alias is the access point alias clients name as the bucket (path style:
	// /ALIAS/key; virtual-hosted: ALIAS.host).
	Alias string
	// Targets are the member Regions in proximity order: the first active one serves.
	Targets []Target
	// Credentials re-sign every forwarded request.
	Credentials aws.Credentials
	// Verifier checks incoming signatures; nil accepts any request (not recommended).
	Verifier *sigv4verify.Verifier
	// Transport sends forwarded requests; nil uses a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives failures; nil discards.
	Logger *slog.Logger
	// Now is the clock used to sign; nil uses time.Now.
	Now func() time.Time
}

// Proxy is the global endpoint handler.
type Proxy struct {
	dials  Dials
	opts   Options
	signer *v4.Signer
}

// New returns a Proxy routing by dials.
func New(dials Dials, opts Options, optFns ...func(*Options)) (*Proxy, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Alias == "" || len(opts.Targets) == 0 {
		return nil, errors.New("global endpoint: alias and at least one target are required")
	}
	if opts.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		tr.MaxIdleConnsPerHost = 64
		opts.Transport = tr
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Proxy{dials: dials, opts: opts, signer: v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true
	})}, nil
}

// Pick returns the Region that serves requests now: the first target in proximity order
// whose dial is 100, else the first with any traffic.
func (p *Proxy) Pick() (Target, bool) {
	for _, want := range []func(int) bool{func(d int) bool { return d >= 100 }, func(d int) bool { return d > 0 }} {
		for _, t := range p.opts.Targets {
			if d, ok := p.dials.Dial(t.Region); ok && want(d) {
				return t, true
			}
		}
	}
	return Target{}, false
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" && !strings.HasPrefix(r.Host, p.opts.Alias+".") {
		p.listBuckets(w, r)
		return
	}
	rest, ok := p.objectPath(r)
	if !ok {
		s3xml.WriteError(w, http.StatusNotFound, "NoSuchBucket",
			"the local global endpoint serves only the Multi-Region Access Point "+p.opts.Alias+
				" (path style: /"+p.opts.Alias+"/KEY)")
		return
	}
	if !p.verify(w, r) {
		return
	}
	t, ok := p.Pick()
	if !ok {
		s3xml.WriteError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "no Region of the access point is active")
		return
	}
	out, err := p.outbound(r, t, rest)
	if err != nil {
		s3xml.WriteError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	resp, err := p.opts.Transport.RoundTrip(out)
	if err != nil {
		p.opts.Logger.Warn("global endpoint: region unreachable", "region", t.Region, "err", err)
		w.Header().Set(RegionHeader, t.Region)
		s3xml.WriteError(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			fmt.Sprintf("Region %s did not answer: %v", t.Region, err))
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.Header().Set(RegionHeader, t.Region)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// objectPath returns the escaped path after the bucket ("" or "/key..."), accepting path
// style (/ALIAS/...) and virtual-hosted style (Host ALIAS.anything).
func (p *Proxy) objectPath(r *http.Request) (string, bool) {
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	path := r.URL.EscapedPath()
	if strings.HasPrefix(host, p.opts.Alias+".") {
		return path, true
	}
	bucket, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if bucket != p.opts.Alias {
		return "", false
	}
	if rest == "" && !strings.HasSuffix(path, "/") {
		return "", true
	}
	return "/" + rest, true
}

// hop-by-hop and signing headers that are not forwarded.
var dropHeaders = []string{
	"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token",
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "Expect",
}

func (p *Proxy) outbound(r *http.Request, t Target, rest string) (*http.Request, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("target %s endpoint: %w", t.Region, err)
	}
	u.RawPath = "/" + t.Bucket + rest
	if u.Path, err = url.PathUnescape(u.RawPath); err != nil {
		return nil, fmt.Errorf("bad path: %w", err)
	}
	u.RawQuery = r.URL.RawQuery
	if q := r.URL.Query(); q.Get("X-Amz-Signature") != "" { // presigned: the proxy signs anew
		for _, k := range sigv4verify.PresignParams {
			q.Del(k)
		}
		u.RawQuery = q.Encode()
	}
	ctx := r.Context()
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), r.Body)
	if err != nil {
		return nil, err
	}
	out.URL.RawPath, out.URL.Path = u.RawPath, u.Path
	out.Header = r.Header.Clone()
	for _, h := range dropHeaders {
		out.Header.Del(h)
	}
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	payload := "UNSIGNED-PAYLOAD"
	sha := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case sha == unsignedTrailer:
		// Chunks without signatures: forwarded as they are, trailing checksum included.
		payload = unsignedTrailer
	case isChunked(r):
		n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil {
			return nil, errors.New("aws-chunked upload without a valid x-amz-decoded-content-length")
		}
		out.Body = io.NopCloser(newChunkedReader(r.Body))
		out.ContentLength = n
		out.Header.Del("X-Amz-Decoded-Content-Length")
		out.Header.Del("X-Amz-Trailer") // the trailing checksum is dropped with the chunk signatures
		out.Header.Del("X-Amz-Sdk-Checksum-Algorithm")
		out.Header.Del("Content-Length")
		var enc []string
		for _, e := range strings.Split(out.Header.Get("Content-Encoding"), ",") {
			if e = strings.TrimSpace(e); e != "" && e != "aws-chunked" {
				enc = append(enc, e)
			}
		}
		if len(enc) == 0 {
			out.Header.Del("Content-Encoding")
		} else {
			out.Header.Set("Content-Encoding", strings.Join(enc, ","))
		}
	}
	out.Header.Set("X-Amz-Content-Sha256", payload)
	if err := p.signer.SignHTTP(ctx, p.opts.Credentials, out, payload, "s3", t.Region, p.opts.Now()); err != nil {
		return nil, fmt.Errorf("re-sign for %s: %w", t.Region, err)
	}
	return out, nil
}

const unsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

func isChunked(r *http.Request) bool {
	sha := r.Header.Get("X-Amz-Content-Sha256")
	return strings.HasPrefix(sha, "STREAMING-") || strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked")
}

type listBucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Buckets []struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	} `xml:"Buckets>Bucket"`
}

// verify checks the request's signature and answers the failure; it reports whether the
// request may go on.
func (p *Proxy) verify(w http.ResponseWriter, r *http.Request) bool {
	if p.opts.Verifier == nil {
		return true
	}
	_, err := p.opts.Verifier.Verify(r)
	if err == nil {
		return true
	}
	status, code, msg := sigv4verify.Response(err)
	s3xml.WriteError(w, status, code, msg)
	return false
}

// listBuckets answers ListBuckets with the one bucket the global endpoint serves, the alias.
func (p *Proxy) listBuckets(w http.ResponseWriter, r *http.Request) {
	if !p.verify(w, r) {
		return
	}
	out := listBucketsResult{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/"}
	out.Owner.ID = "local"
	out.Buckets = append(out.Buckets, struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	}{p.opts.Alias, "2020-01-01T00:00:00.000Z"})
	s3xml.Write(w, http.StatusOK, out)
}
