package routesapi

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/mrap-engine/mrap/shared/local/s3xml"
	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

// xmlns is the namespace of every s3control XML document.
const xmlns = "http://awss3control.amazonaws.com/doc/2018-08-20/"

const routesPrefix = "/v20180820/mrap/instances/"

// Identity names the one local access point the handler serves.
type Identity struct {
	AccountID string // the x-amz-account-id requests must carry
	ARN       string // arn:aws:s3::ACCOUNT:accesspoint/ALIAS
	Alias     string // ALIAS.mrap
}

// Options configure a Handler.
type Options struct {
	// Verifier checks request signatures; nil accepts unsigned requests.
	Verifier *sigv4verify.Verifier
	// Logger receives one line per change; nil discards.
	Logger *slog.Logger
}

// Handler serves GET and PATCH /v20180820/mrap/instances/{mrap}/routes over a Table.
type Handler struct {
	id    Identity
	table *Table
	opts  Options
	reqID atomic.Uint64
}

// New returns a Handler serving table as the routes of the access point id.
func New(table *Table, id Identity, opts Options, optFns ...func(*Options)) *Handler {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{id: id, table: table, opts: opts}
}

type routeXML struct {
	Bucket                string `xml:"Bucket,omitempty"`
	Region                string `xml:"Region,omitempty"`
	TrafficDialPercentage *int   `xml:"TrafficDialPercentage"`
}

type getResult struct {
	XMLName xml.Name   `xml:"GetMultiRegionAccessPointRoutesResult"`
	Xmlns   string     `xml:"xmlns,attr"`
	Mrap    string     `xml:"Mrap"`
	Routes  []routeXML `xml:"Routes>Route"`
}

type submitRequest struct {
	XMLName      xml.Name   `xml:"SubmitMultiRegionAccessPointRoutesRequest"`
	RouteUpdates []routeXML `xml:"RouteUpdates>Route"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := fmt.Sprintf("LOCAL%011d", h.reqID.Add(1))
	w.Header().Set("x-amz-request-id", reqID)
	mrap, ok := h.parsePath(r)
	if !ok {
		h.fail(w, reqID, http.StatusNotFound, "NotImplemented",
			"the local control endpoint serves only GET and PATCH /v20180820/mrap/instances/{mrap}/routes")
		return
	}
	if h.opts.Verifier != nil {
		if _, err := h.opts.Verifier.Verify(r); err != nil {
			status, code, msg := sigv4verify.Response(err)
			h.fail(w, reqID, status, code, msg)
			return
		}
	}
	if acct := r.Header.Get("x-amz-account-id"); acct != h.id.AccountID {
		h.fail(w, reqID, http.StatusForbidden, "AccessDenied",
			fmt.Sprintf("x-amz-account-id %q is not the local account %s", acct, h.id.AccountID))
		return
	}
	if mrap != h.id.ARN && mrap != h.id.Alias {
		h.fail(w, reqID, http.StatusNotFound, "NoSuchMultiRegionAccessPoint",
			fmt.Sprintf("%q is not the local Multi-Region Access Point (%s)", mrap, h.id.ARN))
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.get(w)
	case http.MethodPatch:
		h.submit(w, r, reqID)
	default:
		h.fail(w, reqID, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not allowed on routes")
	}
}

// parsePath returns the {mrap} label, unescaped; the CLI and SDKs percent-encode the ARN.
func (h *Handler) parsePath(r *http.Request) (string, bool) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, routesPrefix) || !strings.HasSuffix(p, "/routes") {
		return "", false
	}
	label := strings.TrimSuffix(strings.TrimPrefix(p, routesPrefix), "/routes")
	mrap, err := url.PathUnescape(label)
	if err != nil || mrap == "" {
		return "", false
	}
	return mrap, true
}

func (h *Handler) get(w http.ResponseWriter) {
	out := getResult{Xmlns: xmlns, Mrap: h.id.ARN}
	for _, r := range h.table.Routes() {
		out.Routes = append(out.Routes, routeXML{Bucket: r.Bucket, Region: r.Region, TrafficDialPercentage: &r.Dial})
	}
	s3xml.Write(w, http.StatusOK, out)
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request, reqID string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		h.fail(w, reqID, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	var req submitRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		h.fail(w, reqID, http.StatusBadRequest, "MalformedXML", "the XML you provided was not well-formed: "+err.Error())
		return
	}
	updates := make([]Update, 0, len(req.RouteUpdates))
	for _, ru := range req.RouteUpdates {
		if ru.TrafficDialPercentage == nil {
			h.fail(w, reqID, http.StatusBadRequest, "InvalidRequest", "each Route needs a TrafficDialPercentage")
			return
		}
		updates = append(updates, Update{Region: ru.Region, Bucket: ru.Bucket, Dial: *ru.TrafficDialPercentage})
	}
	if err := h.table.Submit(updates); err != nil {
		if errors.Is(err, ErrInvalidRequest) {
			h.fail(w, reqID, http.StatusBadRequest, "InvalidRequest", err.Error())
			return
		}
		h.fail(w, reqID, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	h.opts.Logger.Info("routes changed", "routes", fmtRoutes(h.table.Routes()))
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) fail(w http.ResponseWriter, reqID string, status int, code, msg string) {
	s3xml.WriteControlError(w, status, code, msg, reqID)
}

func fmtRoutes(routes []Route) string {
	parts := make([]string, len(routes))
	for i, r := range routes {
		parts[i] = fmt.Sprintf("%s=%d", r.Region, r.Dial)
	}
	return strings.Join(parts, ",")
}
