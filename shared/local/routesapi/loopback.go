package routesapi

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// LoopbackHTTPClient returns an HTTP client that connects hosts ending in ".localhost" or
// ".127.0.0.1" to 127.0.0.1. The s3control clients of the SDKs put the account id in front
// of a custom endpoint's host (http://localhost:P becomes http://ACCOUNT.localhost:P), which
// most resolvers do not answer; with this client Go programs reach the local control
// endpoint without any change to /etc/hosts.
func LoopbackHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && (strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".127.0.0.1")) {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}
