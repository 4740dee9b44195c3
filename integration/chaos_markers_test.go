package integration

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// markerClock restores an S3 behaviour versitygw v1.8.0 lacks: on S3 a delete marker's
// Last-Modified is the time of the delete, while versitygw reports the modification time of
// the object file the marker hides (the write time of the version it deletes). Every client of
// the chaos test that opts in goes through it: it notes the time of each DeleteObject that
// created a marker and rewrites that marker's LastModified in ListObjectVersions answers.
type markerClock struct {
	next  http.RoundTripper
	times sync.Map // marker version id -> time.Time
}

func newMarkerClock(next http.RoundTripper) *markerClock { return &markerClock{next: next} }

var (
	deleteMarkerXML = regexp.MustCompile(`(?s)<DeleteMarker>.*?</DeleteMarker>`)
	versionIDXML    = regexp.MustCompile(`<VersionId>([^<]*)</VersionId>`)
	lastModifiedXML = regexp.MustCompile(`<LastModified>[^<]*</LastModified>`)
)

// RoundTrip implements http.RoundTripper.
func (m *markerClock) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodDelete && !q.Has("versionId") && resp.StatusCode/100 == 2 && resp.Header.Get("x-amz-delete-marker") == "true":
		if v := resp.Header.Get("x-amz-version-id"); v != "" {
			m.times.Store(v, time.Now().UTC())
		}
	case req.Method == http.MethodGet && q.Has("versions") && resp.StatusCode == http.StatusOK:
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		body = deleteMarkerXML.ReplaceAllFunc(body, func(dm []byte) []byte {
			id := versionIDXML.FindSubmatch(dm)
			if id == nil {
				return dm
			}
			t, ok := m.times.Load(string(id[1]))
			if !ok {
				return dm
			}
			return lastModifiedXML.ReplaceAll(dm, []byte("<LastModified>"+t.(time.Time).Format("2006-01-02T15:04:05.000Z")+"</LastModified>"))
		})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	return resp, nil
}
