// Package s3xml writes the XML responses of the S3 and S3 Control APIs as the local stand-ins
// for AWS answer them: one document writer and the two error shapes the SDK parses (S3's
// <Error> and S3 Control's <ErrorResponse>). The fault proxy, the global endpoint and the
// routes API all answer through it.
package s3xml

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
)

// Write answers status with v marshalled as an XML document (declaration, then v). A v that
// does not marshal answers 500 with an empty document.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, nil
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

// s3Error is S3's error document.
type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// WriteError answers an S3 error: <Error><Code>code</Code><Message>msg</Message></Error>.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	Write(w, status, s3Error{Code: code, Message: msg})
}

// controlError is S3 Control's error document.
type controlError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Code    string   `xml:"Error>Code"`
	Message string   `xml:"Error>Message"`
	ReqID   string   `xml:"RequestId"`
	HostID  string   `xml:"HostId"`
}

// WriteControlError answers an S3 Control error: <ErrorResponse> with the code and message
// under <Error>, the request id and the host id "local".
func WriteControlError(w http.ResponseWriter, status int, code, msg, requestID string) {
	Write(w, status, controlError{Code: code, Message: msg, ReqID: requestID, HostID: "local"})
}
