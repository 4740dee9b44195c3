// Package deploymenttest serves CloudFormation DescribeStacks the way AWS does (the query
// protocol: a form-encoded POST, an XML answer, a 400 ValidationError for a stack that does
// not exist), over stacks a test declares per Region, for tests of discovery through the real
// SDK client.
package deploymenttest

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
)

// Stack is one stack the server holds.
type Stack struct {
	Name    string
	Status  string // default CREATE_COMPLETE
	Reason  string
	Outputs map[string]string
	Tags    map[string]string
}

// CloudFormation is an http.Handler answering DescribeStacks for the stacks of each Region
// (the Region of the request's SigV4 credential scope). A listing (no StackName) is paged,
// PageSize stacks a page.
type CloudFormation struct {
	Account  string
	PageSize int
	mu       sync.Mutex
	stacks   map[string][]Stack
	calls    []string
}

// Put adds or replaces stack s in region.
func (c *CloudFormation) Put(region string, s Stack) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stacks == nil {
		c.stacks = map[string][]Stack{}
	}
	list := slices.DeleteFunc(c.stacks[region], func(o Stack) bool { return o.Name == s.Name })
	c.stacks[region] = append(list, s)
}

// Calls lists the calls served, as "REGION DescribeStacks NAME" ("*" for a listing).
func (c *CloudFormation) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

var scopeRegion = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// RequestScope returns the Region and service of a SigV4-signed request, "" when unsigned.
func RequestScope(r *http.Request) (region, service string) {
	m := scopeRegion.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "", ""
	}
	return m[1], m[2]
}

func (c *CloudFormation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region, _ := RequestScope(r)
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.PostForm.Get("Action") != "DescribeStacks" || r.PostForm.Get("Version") != "2010-05-15" {
		writeError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("unexpected request %s %s", r.Method, r.PostForm.Encode()))
		return
	}
	name := r.PostForm.Get("StackName")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, region+" DescribeStacks "+map[bool]string{true: "*", false: name}[name == ""])
	if name == "" {
		c.list(w, region, r.PostForm.Get("NextToken"))
		return
	}
	for _, s := range c.stacks[region] {
		if s.Name == name {
			writeStacks(w, region, c.Account, []Stack{s}, "")
			return
		}
	}
	writeError(w, http.StatusBadRequest, "ValidationError", "Stack with id "+name+" does not exist")
}

func (c *CloudFormation) list(w http.ResponseWriter, region, token string) {
	all := c.stacks[region]
	size := c.PageSize
	if size <= 0 {
		size = 100
	}
	start, _ := strconv.Atoi(token)
	end := min(start+size, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	writeStacks(w, region, c.Account, all[min(start, end):end], next)
}

type member struct {
	Key   string `xml:"Key,omitempty"`
	Value string `xml:"Value,omitempty"`
	OK    string `xml:"OutputKey,omitempty"`
	OV    string `xml:"OutputValue,omitempty"`
}

type stackXML struct {
	StackID      string   `xml:"StackId"`
	StackName    string   `xml:"StackName"`
	CreationTime string   `xml:"CreationTime"`
	StackStatus  string   `xml:"StackStatus"`
	Reason       string   `xml:"StackStatusReason,omitempty"`
	Outputs      []member `xml:"Outputs>member"`
	Tags         []member `xml:"Tags>member"`
}

type describeXML struct {
	XMLName   xml.Name   `xml:"DescribeStacksResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	Stacks    []stackXML `xml:"DescribeStacksResult>Stacks>member"`
	NextToken string     `xml:"DescribeStacksResult>NextToken,omitempty"`
	RequestID string     `xml:"ResponseMetadata>RequestId"`
}

func writeStacks(w http.ResponseWriter, region, account string, stacks []Stack, next string) {
	out := describeXML{Xmlns: "http://cloudformation.amazonaws.com/doc/2010-05-15/", NextToken: next, RequestID: "req-1"}
	for _, s := range stacks {
		x := stackXML{StackID: fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/0b9c1f30-aaaa-11ef-9c3e-0a1b2c3d4e5f", region, account, s.Name),
			StackName: s.Name, CreationTime: "2026-12-01T10:00:00.123Z", StackStatus: s.Status, Reason: s.Reason}
		if x.StackStatus == "" {
			x.StackStatus = "CREATE_COMPLETE"
		}
		for _, k := range slices.Sorted(maps.Keys(s.Outputs)) {
			x.Outputs = append(x.Outputs, member{OK: k, OV: s.Outputs[k]})
		}
		for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
			x.Tags = append(x.Tags, member{Key: k, Value: s.Tags[k]})
		}
		out.Stacks = append(out.Stacks, x)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "req-1")
	_ = xml.NewEncoder(w).Encode(out)
}

type errorXML struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(errorXML{Xmlns: "http://cloudformation.amazonaws.com/doc/2010-05-15/", Type: "Sender", Code: code, Message: msg, RequestID: "req-1"})
}

// Delete removes stack name from region.
func (c *CloudFormation) Delete(region, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stacks[region] = slices.DeleteFunc(c.stacks[region], func(o Stack) bool { return o.Name == name })
}

// Drop removes every stack of region, the CDK toolkit stack too (a Region never bootstrapped).
func (c *CloudFormation) Drop(region string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.stacks, region)
}
