package events

import (
	"net/url"
	"strings"
	"testing"
)

func TestDecodeKey(t *testing.T) {
	long := strings.Repeat("a/b c+", 170) + "abcd" // 1024 bytes decoded
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{name: "plain key is unchanged", raw: "photos/2024/cat.jpg", want: "photos/2024/cat.jpg"},
		{name: "plus is a space", raw: "red+flower.jpg", want: "red flower.jpg"},
		{name: "encoded plus is a plus", raw: "a+b%2Bc", want: "a b+c"},
		{name: "encoded percent is a percent", raw: "100%25+done", want: "100% done"},
		{name: "encoded colon is a colon", raw: "logs%2F10%3A47%3A07.log", want: "logs/10:47:07.log"},
		{name: "literal colon passes through", raw: "t:1", want: "t:1"},
		{name: "unicode is UTF-8 percent encoded", raw: "caf%C3%A9/%E6%97%A5%E6%9C%AC%F0%9F%98%80", want: "café/日本😀"},
		{name: "1024-byte key", raw: url.QueryEscape(long), want: long},
		{name: "empty key", raw: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeKey(tt.raw)
			if err != nil {
				t.Fatalf("DecodeKey(%q) error: %v", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("DecodeKey(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
	if len(long) != 1024 {
		t.Fatalf("long key is %d bytes, want 1024", len(long))
	}
}

func TestDecodeKeyRejectsInvalidEscapes(t *testing.T) {
	for _, raw := range []string{"50%", "bad%zzescape", "trail%4"} {
		t.Run(raw, func(t *testing.T) {
			_, err := DecodeKey(raw)
			if err == nil {
				t.Fatalf("DecodeKey(%q) = nil error, want an invalid escape error", raw)
			}
			if !strings.Contains(err.Error(), "decode object key") || !strings.Contains(err.Error(), "invalid URL escape") {
				t.Errorf("error %q does not say which key failed and why", err)
			}
		})
	}
}
