package events

import (
	"fmt"
	"net/url"
)

// DecodeKey turns an object key as it appears in an S3 event into the key S3 stores. It is
// the engine's one key decoder: form-URL decoding, where '+' is a space and %XX is a byte
// ("a b+c" arrives as "a+b%2Bc"). Classic S3 notifications (SQS, SNS, Lambda) are documented
// to encode keys this way; for EventBridge the documentation is silent, so callers verify the
// decoded key against the version id and fall back to the raw key (see ObjectChange.RawKey),
// and an EventBridge key that is not valid form encoding is kept as sent.
func DecodeKey(raw string) (string, error) {
	key, err := url.QueryUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("decode object key %q: %w", truncate(raw, 120), err)
	}
	return key, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
