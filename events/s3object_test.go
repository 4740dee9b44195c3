package events

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertJSONEqual compares two JSON documents by value.
func assertJSONEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

func TestS3ObjectEventRoundTrip(t *testing.T) {
	for _, name := range []string{
		"s3-object-created.json",
		"s3-object-created-multipart.json",
		"s3-object-deleted-marker.json",
		"s3-object-deleted-permanent.json",
		"s3-object-deleted-lifecycle.json",
	} {
		t.Run(name, func(t *testing.T) {
			in := readFixture(t, name)
			var ev S3ObjectEvent
			if err := json.Unmarshal(in, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Detail.Object.Key == "" || ev.Detail.Bucket.Name == "" || ev.Time.IsZero() {
				t.Fatalf("fixture decoded without key, bucket or time: %+v", ev)
			}
			out, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, out, in)
		})
	}
}
