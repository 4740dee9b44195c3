package s3store

import (
	"bytes"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// checksums are the checksum values an S3 response may carry, in a fixed order.
type checksums struct {
	crc32, crc32c, crc64nvme, sha1, sha256 *string
}

// checksum is an object's checksum: its algorithm, value, and whether the value covers the
// whole object (a composite multipart checksum ends in "-<parts>" and cannot be sent with a
// single PUT).
type checksum struct {
	algorithm  string
	value      string
	fullObject bool
}

func checksumOf(c checksums) checksum {
	for _, cand := range []struct {
		alg string
		v   *string
	}{{"CRC32", c.crc32}, {"CRC32C", c.crc32c}, {"CRC64NVME", c.crc64nvme}, {"SHA1", c.sha1}, {"SHA256", c.sha256}} {
		if cand.v != nil && *cand.v != "" {
			return checksum{algorithm: cand.alg, value: *cand.v, fullObject: !strings.Contains(*cand.v, "-")}
		}
	}
	return checksum{}
}

// setPut sets the checksum value on a PutObject request so S3 verifies the body against it.
func (c checksum) setPut(in *s3.PutObjectInput) {
	v := &c.value
	switch c.algorithm {
	case "CRC32":
		in.ChecksumCRC32 = v
	case "CRC32C":
		in.ChecksumCRC32C = v
	case "CRC64NVME":
		in.ChecksumCRC64NVME = v
	case "SHA1":
		in.ChecksumSHA1 = v
	case "SHA256":
		in.ChecksumSHA256 = v
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
