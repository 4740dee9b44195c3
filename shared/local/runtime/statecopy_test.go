package runtime

import (
	"context"
	"errors"
	"testing"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/network"
)

func TestLinkedStoreFollowsTheLinks(t *testing.T) {
	links := network.New([]string{"a", "b"})
	inner := docstore.NewMemory()
	s := &linkedStore{links: links, from: "a", to: "b", inner: inner}
	ctx := context.Background()
	if _, err := s.Put(ctx, "k", []byte("v1"), docstore.Cond{}); err != nil {
		t.Fatalf("put over an up link: %v", err)
	}
	for _, state := range []network.State{network.Outage, network.Isolated} {
		_ = links.Set("b", state)
		var cut *network.CutError
		if _, err := s.Get(ctx, "k"); !errors.As(err, &cut) {
			t.Errorf("get with b %s: err = %v, want a cut link", state, err)
		}
		if _, err := s.Put(ctx, "k", []byte("v2"), docstore.Cond{}); !errors.As(err, &cut) {
			t.Errorf("put with b %s: err = %v, want a cut link", state, err)
		}
	}
	_ = links.Set("b", network.Up)
	doc, err := s.Get(ctx, "k")
	if err != nil || string(doc.Body) != "v1" {
		t.Errorf("after the link is back: %q, %v; want v1 (nothing written over the cut link)", doc.Body, err)
	}
	own := &linkedStore{links: links, from: "b", to: "b", inner: inner}
	_ = links.Set("b", network.Isolated)
	if _, err := own.Get(ctx, "k"); err != nil {
		t.Errorf("an isolated Region reading its own copy: %v", err)
	}
}
