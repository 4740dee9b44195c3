package globalendpoint

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// chunkedReader decodes an aws-chunked body (SigV4 streaming uploads): each chunk is
// "HEXSIZE[;chunk-signature=SIG]\r\nDATA\r\n", the last has size 0 and may be followed by
// trailing headers (checksums), which are dropped. Chunk signatures are not checked: the
// seed signature of the request was.
type chunkedReader struct {
	r    *bufio.Reader
	left int64
	done bool
	err  error
}

func newChunkedReader(r io.Reader) *chunkedReader {
	return &chunkedReader{r: bufio.NewReader(r)}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 && !c.done {
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if c.done {
		c.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		err = c.crlf()
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *chunkedReader) next() error {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("aws-chunked: read chunk header: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	size, _, _ := strings.Cut(line, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("aws-chunked: bad chunk size %q", size)
	}
	if n == 0 {
		c.done = true
		_, _ = io.Copy(io.Discard, c.r) // trailers
		return nil
	}
	c.left = n
	return nil
}

func (c *chunkedReader) crlf() error {
	b := make([]byte, 2)
	if _, err := io.ReadFull(c.r, b); err != nil || string(b) != "\r\n" {
		return fmt.Errorf("aws-chunked: missing CRLF after chunk data")
	}
	return nil
}
