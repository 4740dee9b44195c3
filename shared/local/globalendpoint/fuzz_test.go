package globalendpoint

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// encodeChunked writes data as an aws-chunked body of chunks of size bytes, with chunk
// signatures and a checksum trailer, as the SDKs send streaming uploads.
func encodeChunked(data []byte, size int) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(size, len(data))
		fmt.Fprintf(&b, "%x;chunk-signature=%064x\r\n", n, n)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString("0;chunk-signature=" + fmt.Sprintf("%064x", 0) + "\r\n")
	b.WriteString("x-amz-checksum-crc32:AAAAAA==\r\n\r\n")
	return b.Bytes()
}

// FuzzChunkedReader: any body decodes without panicking to at most its own length (or an
// error), and any data encoded as aws-chunked in chunks of any size decodes back exactly.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("5;chunk-signature=ab\r\nhello\r\n0;chunk-signature=cd\r\n\r\n"), []byte("hello world"), uint16(3))
	f.Add([]byte("ffffffffffffffff\r\nx"), []byte{}, uint16(0))
	f.Add([]byte("-1\r\n"), []byte{0, 1, 2}, uint16(1))
	f.Add([]byte("3\r\nabcXY0\r\n"), bytes.Repeat([]byte("z"), 70000), uint16(65535))
	f.Add([]byte(""), []byte("a"), uint16(1))
	f.Fuzz(func(t *testing.T, raw, data []byte, chunk uint16) {
		got, err := io.ReadAll(newChunkedReader(bytes.NewReader(raw)))
		if len(got) > len(raw) {
			t.Fatalf("decoded %d bytes from a %d-byte body", len(got), len(raw))
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
		enc := encodeChunked(data, max(1, int(chunk)))
		got, err = io.ReadAll(newChunkedReader(bytes.NewReader(enc)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes in %d-byte chunks: %v, got %d bytes", len(data), chunk, err, len(got))
		}
	})
}
