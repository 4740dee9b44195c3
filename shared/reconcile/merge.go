package reconcile

import (
	"context"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
)

// Entry is one version or delete marker of a ListObjectVersions page.
type Entry struct {
	Key          string
	VersionID    string
	Latest       bool // the key's current version
	DeleteMarker bool
	LastModified time.Time
	ETag         string
	Size         int64
}

// Query asks for one ListObjectVersions page: keys under Prefix after KeyMarker (and, when
// set, after VersionIDMarker within KeyMarker), at most MaxKeys entries.
type Query struct {
	Prefix          string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// Page is one ListObjectVersions page: versions and delete markers in key order (byte order
// of the keys), and the markers of the next page when Truncated.
type Page struct {
	Entries             []Entry
	Truncated           bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// Lister lists one page of the versions of a member bucket (shared/s3store implements it).
type Lister interface {
	ListVersionsPage(ctx context.Context, region, bucket string, q Query) (Page, error)
}

// maxListedVersions bounds the version ids of one key a view keeps from a listing (the key's
// order in that Region, for the conflict rule). Beyond it only the newest are kept.
const maxListedVersions = 1000

// cursor streams the current versions of one member bucket, one page in memory at a time.
type cursor struct {
	lister Lister
	member config.Member
	q      Query
	end    string // exclusive upper bound, "" for none
	page   []Entry
	i      int
	done   bool
	// last is the key of the last group taken (keys only grow: a repeated key is skipped);
	// started reports that one was taken.
	last    string
	started bool
	head    *group // the next key's group, read by peek
	// next is the page being pageAnswer ahead (nil: none): while the current page is merged, the
	// next one is already on its way, so the Regions' listings overlap instead of queueing.
	next chan pageAnswer
}

// pageAnswer is one page listing's answer.
type pageAnswer struct {
	page Page
	err  error
}

// group is one key of a listing: its current version and its version ids newest first.
type group struct {
	cur Entry
	ids []string
}

// at returns the entry at the cursor, loading the next page when needed (nil at the end of
// the range).
func (c *cursor) at(ctx context.Context) (*Entry, error) {
	for c.i >= len(c.page) {
		if c.done {
			return nil, nil
		}
		var p Page
		var err error
		if c.next != nil {
			got := <-c.next
			c.next, p, err = nil, got.page, got.err
		} else {
			p, err = c.lister.ListVersionsPage(ctx, c.member.Region, c.member.Bucket, c.q)
		}
		if err != nil {
			return nil, err
		}
		c.page, c.i = p.Entries, 0
		if !p.Truncated {
			c.done = true
		} else {
			c.q.KeyMarker, c.q.VersionIDMarker = p.NextKeyMarker, p.NextVersionIDMarker
			c.listAhead(ctx, p)
		}
	}
	e := &c.page[c.i]
	if c.end != "" && e.Key >= c.end {
		c.done, c.page = true, nil
		return nil, nil
	}
	return e, nil
}

// listAhead starts listing the page after p, unless p already reaches the end of the range.
// One page ahead per member at most: memory stays bounded by the page size.
func (c *cursor) listAhead(ctx context.Context, p Page) {
	if n := len(p.Entries); c.end != "" && n > 0 && p.Entries[n-1].Key >= c.end {
		return
	}
	ch := make(chan pageAnswer, 1)
	c.next = ch
	q := c.q
	go func() {
		p, err := c.lister.ListVersionsPage(ctx, c.member.Region, c.member.Bucket, q)
		ch <- pageAnswer{page: p, err: err}
	}()
}

// peek returns the next key with a current version: that version and the key's version ids
// in listing order (nil at the end of the range). A key's versions may span pages.
func (c *cursor) peek(ctx context.Context) (*group, error) {
	for c.head == nil {
		e, err := c.at(ctx)
		if err != nil || e == nil {
			return nil, err
		}
		if c.started && e.Key <= c.last {
			c.i++
			continue
		}
		key := e.Key
		g := &group{}
		found := false
		for e != nil && e.Key == key {
			if len(g.ids) < maxListedVersions {
				g.ids = append(g.ids, e.VersionID)
			}
			if e.Latest && !found {
				g.cur, found = *e, true
			}
			c.i++
			if e, err = c.at(ctx); err != nil {
				return nil, err
			}
		}
		c.last, c.started = key, true
		if found {
			c.head = g
		}
	}
	return c.head, nil
}

// merger merges the cursors of every member by key, one key at a time.
type merger struct {
	cursors []*cursor
}

func newMerger(lister Lister, members []config.Member, prefix, after, end string, pageSize int) *merger {
	m := &merger{}
	for _, mb := range members {
		m.cursors = append(m.cursors, &cursor{lister: lister, member: mb, end: end, q: Query{Prefix: prefix, KeyMarker: after, MaxKeys: pageSize}})
	}
	return m
}

// next returns the view of the next key in any member (ok false at the end of the range).
func (m *merger) next(ctx context.Context) (KeyView, bool, error) {
	heads := make([]*group, len(m.cursors))
	var min string
	found := false
	for i, c := range m.cursors {
		g, err := c.peek(ctx)
		if err != nil {
			return KeyView{}, false, err
		}
		heads[i] = g
		if g != nil && (!found || g.cur.Key < min) {
			min, found = g.cur.Key, true
		}
	}
	if !found {
		return KeyView{}, false, nil
	}
	v := KeyView{Key: min, States: make([]State, len(m.cursors))}
	for i, c := range m.cursors {
		v.States[i] = State{Region: c.member.Region}
		if g := heads[i]; g != nil && g.cur.Key == min {
			e := g.cur
			v.States[i] = State{Region: c.member.Region, Exists: true, DeleteMarker: e.DeleteMarker, VersionID: e.VersionID, LastModified: e.LastModified, ETag: e.ETag, Size: e.Size,
				Versions: g.ids}
			c.head = nil
		}
	}
	return v, true, nil
}
