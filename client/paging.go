package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// HeaderNextCursor is the response header that carries the cursor of a list's next page.
const HeaderNextCursor = "X-Next-Cursor"

// ListOptions select one page of a list that the broker pages (agents, stacks, generators,
// templates, registered agents, work orders, pending work orders and diagnostics, agent
// events, deployment objects, the work-order log).
//
// The broker answers at most Limit rows (0: the list's default, 1000 for collections and
// 100 for histories; larger values are capped at 1000), starting after Cursor (empty: the
// first page), in the list's fixed order. Page.NextCursor resumes after the page.
type ListOptions struct {
	Limit  int
	Cursor string
}

// Page is one page of a list. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// set adds limit and cursor to q.
func (o *ListOptions) set(q url.Values) {
	if o == nil {
		return
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
}

// listPage reads one page of a list.
func listPage[T any](ctx context.Context, c *Client, r request, opts *ListOptions) (Page[T], error) {
	q := url.Values{}
	for k, v := range r.query {
		q[k] = append([]string(nil), v...)
	}
	opts.set(q)
	r.query = q
	a, err := c.send(ctx, r)
	if err != nil {
		return Page[T]{}, err
	}
	var items []T
	if len(a.body) > 0 {
		if err := json.Unmarshal(a.body, &items); err != nil {
			return Page[T]{}, fmt.Errorf("decode %s %s response: %w", r.method, r.path, err)
		}
	}
	return Page[T]{Items: items, NextCursor: a.header.Get(HeaderNextCursor)}, nil
}

// listAll reads a list to its end, following the broker's cursors page by page; max > 0
// stops after that many rows (and asks for no bigger pages). Against a broker that does not
// page, the first answer is the whole list.
func listAll[T any](ctx context.Context, c *Client, r request, max int) ([]T, error) {
	opts := &ListOptions{Limit: max}
	var out []T
	seen := map[string]bool{}
	for {
		p, err := listPage[T](ctx, c, r, opts)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = p.Items
		} else {
			out = append(out, p.Items...)
		}
		if max > 0 && len(out) >= max {
			return out[:max], nil
		}
		if p.NextCursor == "" || seen[p.NextCursor] {
			return out, nil
		}
		seen[p.NextCursor] = true
		opts.Cursor = p.NextCursor
		if max > 0 {
			opts.Limit = max - len(out)
		}
	}
}
