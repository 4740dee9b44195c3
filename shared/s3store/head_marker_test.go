package s3store

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

// listVersionsXML is a ListObjectVersions answer in S3's wire format.
func listVersionsXML(entries string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>k</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>` +
		entries + `</ListVersionsResult>`
}

// A HEAD of a key whose current version is a delete marker answers 404 with only
// x-amz-delete-marker: true, as AWS documents: the marker's id and time are read from a
// one-item listing, never taken as an absent key or as time zero.
func TestHeadOfBareDeleteMarker404ReadsTheMarkerFromAListing(t *testing.T) {
	cases := []struct {
		name    string
		headID  string // x-amz-version-id on the 404, when the store sends it
		listing string
		want    replication.Version
		wantErr string
	}{
		{
			name:    "the listing names the current marker",
			listing: `<DeleteMarker><Key>k</Key><VersionId>dm-zz</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-25T18:00:07.000Z</LastModified></DeleteMarker>`,
			want:    replication.Version{Exists: true, DeleteMarker: true, VersionID: "dm-zz", LastModified: time.Date(2026, 11, 25, 18, 0, 7, 0, time.UTC)},
		},
		{
			name:    "an id but no Last-Modified: the time of an original marker comes from the listing",
			headID:  "dm-zz",
			listing: `<DeleteMarker><Key>k</Key><VersionId>dm-zz</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-25T18:00:07.000Z</LastModified></DeleteMarker>`,
			want:    replication.Version{Exists: true, DeleteMarker: true, VersionID: "dm-zz", LastModified: time.Date(2026, 11, 25, 18, 0, 7, 0, time.UTC)},
		},
		{
			name:    "the key changed between the HEAD and the listing",
			listing: `<Version><Key>k</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-25T18:00:08.000Z</LastModified><ETag>"e"</ETag><Size>1</Size></Version>`,
			wantErr: "current version changed while being read",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
				switch op {
				case "HeadObject":
					w.Header().Set("x-amz-request-id", "R")
					w.Header().Set("x-amz-delete-marker", "true") // and nothing else, as documented
					if tc.headID != "" {
						w.Header().Set("x-amz-version-id", tc.headID)
					}
					w.WriteHeader(http.StatusNotFound)
				case "ListObjectVersions":
					if r.URL.Query().Get("prefix") != "k" {
						t.Errorf("listing prefix %q, want the key", r.URL.Query().Get("prefix"))
					}
					w.Header().Set("Content-Type", "application/xml")
					_, _ = w.Write([]byte(listVersionsXML(tc.listing)))
				default: // the marker's record: none (an original marker)
					w.Header().Set("Content-Type", "application/xml")
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`<Error><Code>NoSuchKey</Code><Message>no</Message></Error>`))
				}
			})
			store, err := New(map[string]S3API{"eu-west-1": clientFor(srv, 1)}, Options{TrustNotFound: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := store.Head(context.Background(), "eu-west-1", "b", "k")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || replication.IsPermanent(err) {
					t.Fatalf("Head = %+v, %v; want a retryable error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Exists != tc.want.Exists || got.DeleteMarker != tc.want.DeleteMarker || got.VersionID != tc.want.VersionID || !got.LastModified.Equal(tc.want.LastModified) {
				t.Errorf("Head = %+v, want %+v", got, tc.want)
			}
			if n := srv.count("ListObjectVersions"); n != 1 {
				t.Errorf("%d listings, want 1", n)
			}
		})
	}
}
