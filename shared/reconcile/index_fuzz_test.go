package reconcile

import (
	"slices"
	"testing"
)

// FuzzDecodeChunk: no input panics the chunk decoder, and a chunk it accepts holds what its
// header says, in strictly increasing key order, one version per member, and encodes back to
// a chunk that decodes to the same entries.
func FuzzDecodeChunk(f *testing.F) {
	want := chunkHeader{Generation: "g", Config: "cfg", Seq: 0}
	good, err := encodeChunk(nil, want, testEntries("a", "b", "c"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeChunk(body, want, 3, "")
		if err != nil {
			return
		}
		if len(got) == 0 {
			t.Fatal("accepted a chunk with no entry")
		}
		for i, e := range got {
			if len(e.Versions) != 3 || (i > 0 && e.Key <= got[i-1].Key) {
				t.Fatalf("accepted entry %d %+v", i, e)
			}
		}
		again, err := encodeChunk(nil, want, got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeChunk(again, want, 3, "")
		if err != nil || !slices.EqualFunc(back, got, func(a, b IndexEntry) bool {
			return a.Key == b.Key && a.Origin == b.Origin && slices.Equal(a.Versions, b.Versions)
		}) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
