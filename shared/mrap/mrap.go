// Package mrap is the adapter over the routes API of S3 Multi-Region Access Points:
// GetMultiRegionAccessPointRoutes and SubmitMultiRegionAccessPointRoutes through
// aws-sdk-go-v2 s3control, tried across the control Regions that serve them, sending only
// the Regions that change and reading the result back.
package mrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// DefaultControlRegions are the Regions that serve the routes API, in the default order.
var DefaultControlRegions = []string{"us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1", "eu-west-1"}

// TryOrder is the order in which a decider in Region own tries the routes-API Regions:
// its own Region first when it serves the API (it needs no other Region then), then the
// others in the order given.
func TryOrder(regions []string, own string) []string {
	if !slices.Contains(regions, own) {
		return slices.Clone(regions)
	}
	out := []string{own}
	for _, r := range regions {
		if r != own {
			out = append(out, r)
		}
	}
	return out
}

// ControlAPI is the part of *s3control.Client the adapter calls.
type ControlAPI interface {
	GetMultiRegionAccessPointRoutes(ctx context.Context, in *s3control.GetMultiRegionAccessPointRoutesInput, optFns ...func(*s3control.Options)) (*s3control.GetMultiRegionAccessPointRoutesOutput, error)
	SubmitMultiRegionAccessPointRoutes(ctx context.Context, in *s3control.SubmitMultiRegionAccessPointRoutesInput, optFns ...func(*s3control.Options)) (*s3control.SubmitMultiRegionAccessPointRoutesOutput, error)
}

var _ ControlAPI = (*s3control.Client)(nil)

// RoutesAPI is what the failover engine needs of the routes API; *Client provides it and
// tests provide fakes.
type RoutesAPI interface {
	// GetRoutes returns the current route of every member Region.
	GetRoutes(ctx context.Context) ([]Route, error)
	// SubmitRoutes moves current towards desired (Region -> dial), sending only the Regions
	// whose dial changes, and reads the routes back.
	SubmitRoutes(ctx context.Context, current []Route, desired map[string]int) (SubmitResult, error)
}

var _ RoutesAPI = (*Client)(nil)

// Route is one member of the access point and its traffic dial (0 passive, 100 active).
type Route struct {
	Bucket string
	Region string
	Dial   int
}

// Dials returns routes as Region -> dial.
func Dials(routes []Route) map[string]int {
	out := make(map[string]int, len(routes))
	for _, r := range routes {
		out[r.Region] = r.Dial
	}
	return out
}

// Changes lists the routes of current whose dial differs in desired, in Region order.
// Regions of desired that current does not know are an error: the API would reject them.
func Changes(current []Route, desired map[string]int) ([]Route, error) {
	byRegion := map[string]Route{}
	for _, r := range current {
		byRegion[r.Region] = r
	}
	var out []Route
	regions := make([]string, 0, len(desired))
	for r := range desired {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, region := range regions {
		cur, ok := byRegion[region]
		if !ok {
			return nil, fmt.Errorf("region %s is not a member of the access point", region)
		}
		if cur.Dial != desired[region] {
			out = append(out, Route{Bucket: cur.Bucket, Region: region, Dial: desired[region]})
		}
	}
	return out, nil
}

// SubmitResult says what was sent where and what the API reports afterwards.
type SubmitResult struct {
	// ControlRegion is the Region whose routes API accepted the change ("" when nothing was sent).
	ControlRegion string
	// Sent are the routes submitted: only the changed Regions.
	Sent []Route
	// After are the routes read back after the change.
	After []Route
}

// MismatchError reports routes read back that differ from what was submitted.
type MismatchError struct {
	Want map[string]int
	Got  map[string]int
}

func (e *MismatchError) Error() string {
	var diffs []string
	for _, r := range sortedKeys(e.Want) {
		if e.Got[r] != e.Want[r] {
			diffs = append(diffs, fmt.Sprintf("%s want %d got %d", r, e.Want[r], e.Got[r]))
		}
	}
	return "routes read back differ from the submitted ones: " + strings.Join(diffs, ", ")
}

// Options configure a Client.
type Options struct {
	// AccountID owns the access point (x-amz-account-id).
	AccountID string
	// ARN is arn:aws:s3::ACCOUNT:accesspoint/ALIAS.
	ARN string
	// ControlRegions are tried in order; DefaultControlRegions when empty.
	ControlRegions []string
	// Endpoint overrides the routes API endpoint (the local runtime); the URL is used as is.
	Endpoint string
	// AttemptTimeout bounds each control Region's attempt (default 10s).
	AttemptTimeout time.Duration
	// Logger receives one line per control-Region fallback; nil discards.
	Logger *slog.Logger
}

// Client is the routes API adapter.
type Client struct {
	api  ControlAPI
	opts Options
}

// New returns a Client calling api. It reports missing or malformed options.
func New(api ControlAPI, opts Options, optFns ...func(*Options)) (*Client, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if len(opts.ControlRegions) == 0 {
		opts.ControlRegions = DefaultControlRegions
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if api == nil {
		errs = append(errs, errors.New("no s3control client"))
	}
	if opts.AccountID == "" {
		errs = append(errs, errors.New("account id is required"))
	}
	if !strings.HasPrefix(opts.ARN, "arn:") || !strings.Contains(opts.ARN, ":accesspoint/") {
		errs = append(errs, fmt.Errorf("access point ARN %q is not arn:aws:s3::ACCOUNT:accesspoint/ALIAS", opts.ARN))
	}
	if opts.Endpoint != "" {
		if u, err := url.Parse(opts.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("control endpoint %q is not an absolute URL", opts.Endpoint))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mrap client: %w", err)
	}
	return &Client{api: api, opts: opts}, nil
}

// GetRoutes returns the current routes, trying each control Region in turn.
func (c *Client) GetRoutes(ctx context.Context) ([]Route, error) {
	return c.getRoutes(ctx, c.opts.ControlRegions)
}

func (c *Client) getRoutes(ctx context.Context, regions []string) ([]Route, error) {
	var routes []Route
	_, err := c.each(ctx, regions, "get routes", func(ctx context.Context, region string) error {
		out, err := c.api.GetMultiRegionAccessPointRoutes(ctx, &s3control.GetMultiRegionAccessPointRoutesInput{
			AccountId: aws.String(c.opts.AccountID),
			Mrap:      aws.String(c.opts.ARN),
		}, c.callOpts(region))
		if err != nil {
			return err
		}
		routes = fromSDK(out.Routes)
		return nil
	})
	return routes, err
}

// SubmitRoutes sends the Regions whose dial changes from current to desired through the
// first control Region that answers, then reads the routes back and compares. It sends
// nothing when nothing changes, and refuses a request that would leave every Region passive.
func (c *Client) SubmitRoutes(ctx context.Context, current []Route, desired map[string]int) (SubmitResult, error) {
	changes, err := Changes(current, desired)
	if err != nil {
		return SubmitResult{}, fmt.Errorf("submit routes: %w", err)
	}
	if len(changes) == 0 {
		return SubmitResult{After: current}, nil
	}
	after := Dials(current)
	for _, r := range changes {
		if r.Dial != 0 && r.Dial != 100 {
			return SubmitResult{}, fmt.Errorf("submit routes: %s dial %d is not 0 or 100", r.Region, r.Dial)
		}
		after[r.Region] = r.Dial
	}
	if !slices.ContainsFunc(sortedKeys(after), func(r string) bool { return after[r] > 0 }) {
		return SubmitResult{}, errors.New("submit routes: refusing to make every Region passive")
	}
	res := SubmitResult{Sent: changes}
	updates := toSDK(changes)
	res.ControlRegion, err = c.each(ctx, c.opts.ControlRegions, "submit routes", func(ctx context.Context, region string) error {
		_, err := c.api.SubmitMultiRegionAccessPointRoutes(ctx, &s3control.SubmitMultiRegionAccessPointRoutesInput{
			AccountId:    aws.String(c.opts.AccountID),
			Mrap:         aws.String(c.opts.ARN),
			RouteUpdates: updates,
		}, c.callOpts(region))
		return err
	})
	if err != nil {
		return res, err
	}
	// Read back first from the Region that took the change, then from the others.
	order := append([]string{res.ControlRegion}, slices.DeleteFunc(slices.Clone(c.opts.ControlRegions), func(r string) bool { return r == res.ControlRegion })...)
	res.After, err = c.getRoutes(ctx, order)
	if err != nil {
		return res, fmt.Errorf("read back after submit via %s: %w", res.ControlRegion, err)
	}
	got := Dials(res.After)
	for _, r := range changes {
		if got[r.Region] != r.Dial {
			return res, &MismatchError{Want: Dials(changes), Got: got}
		}
	}
	return res, nil
}

// each runs call against the control Regions in order until one succeeds, falling back on
// 5xx, throttling, timeouts and network errors; any other error stops at once.
func (c *Client) each(ctx context.Context, regions []string, what string, call func(context.Context, string) error) (string, error) {
	var errs []error
	for _, region := range regions {
		actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
		err := call(actx, region)
		cancel()
		if err == nil {
			return region, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", region, err))
		if ctx.Err() != nil || !Retryable(err) {
			break
		}
		c.opts.Logger.Warn("routes API failed, trying the next control Region", "op", what, "region", region, "error", err.Error())
	}
	return "", fmt.Errorf("%s: %w", what, errors.Join(errs...))
}

// Retryable reports whether err is worth trying in another control Region: a 5xx, a
// throttle, a timeout or a network failure. Client errors (4xx) are final.
func Retryable(err error) bool {
	var invalid smithy.InvalidParamsError
	if errors.Is(err, context.Canceled) || errors.As(err, &invalid) {
		return false
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "Throttling", "ThrottlingException", "SlowDown", "TooManyRequestsException",
			"RequestLimitExceeded", "RequestThrottled", "ServiceUnavailable", "InternalError":
			return true
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != 0 {
		code := respErr.HTTPStatusCode()
		return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
	}
	// No HTTP response at all: timeout, refused connection, DNS, TLS.
	return true
}

func (c *Client) callOpts(region string) func(*s3control.Options) {
	return func(o *s3control.Options) {
		o.Region = region
		if c.opts.Endpoint != "" {
			o.EndpointResolverV2 = staticEndpoint(c.opts.Endpoint)
		}
	}
}

// staticEndpoint resolves every request to one URL, as is: the local routes API.
type staticEndpoint string

func (s staticEndpoint) ResolveEndpoint(ctx context.Context, _ s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(string(s))
	if err != nil {
		return smithyendpoints.Endpoint{}, fmt.Errorf("control endpoint: %w", err)
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

func fromSDK(in []types.MultiRegionAccessPointRoute) []Route {
	out := make([]Route, 0, len(in))
	for _, r := range in {
		out = append(out, Route{Bucket: aws.ToString(r.Bucket), Region: aws.ToString(r.Region), Dial: int(aws.ToInt32(r.TrafficDialPercentage))})
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Region, b.Region) })
	return out
}

func toSDK(in []Route) []types.MultiRegionAccessPointRoute {
	out := make([]types.MultiRegionAccessPointRoute, 0, len(in))
	for _, r := range in {
		rt := types.MultiRegionAccessPointRoute{Region: aws.String(r.Region), TrafficDialPercentage: aws.Int32(int32(r.Dial))}
		if r.Bucket != "" {
			rt.Bucket = aws.String(r.Bucket)
		}
		out = append(out, rt)
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
