// Package verb runs the shapes most brokkrctl resource verbs share: read one item or a list
// and print it, write something and print the result, issue a PAK, delete after
// confirmation. A command's run function names the broker calls, the table and the messages;
// building the client and the printer and reporting are done here, once.
//
//	func runGet(ctx context.Context, opts *GetOptions) error {
//		return verb.Get(ctx, opts.Factory, opts.Format, specs.Stack, verb.Ref(resolve.Stack, opts.Ref))
//	}
package verb

import (
	"context"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Fetch is one read (or write) against the broker.
type Fetch[T any] func(ctx context.Context, c *client.Client) (T, error)

// Ref is the Fetch of what find resolves ref to (see package resolve).
func Ref[T any](find func(context.Context, *client.Client, string) (T, error), ref string) Fetch[T] {
	return func(ctx context.Context, c *client.Client) (T, error) { return find(ctx, c, ref) }
}

// Via resolves ref with find (to an id, usually) and passes the result to call.
func Via[K, T any](find func(context.Context, *client.Client, string) (K, error), ref string,
	call func(context.Context, *client.Client, K) (T, error)) Fetch[T] {
	return func(ctx context.Context, c *client.Client) (T, error) {
		k, err := find(ctx, c, ref)
		if err != nil {
			var zero T
			return zero, err
		}
		return call(ctx, c, k)
	}
}

// Do builds the Factory's client and runs fetch with it.
func Do[T any](ctx context.Context, f *cmdutil.Factory, fetch Fetch[T]) (T, error) {
	c, err := f.Client()
	if err != nil {
		var zero T
		return zero, err
	}
	return fetch(ctx, c)
}

// Get prints the item fetch reads through spec.
func Get[T any](ctx context.Context, f *cmdutil.Factory, format output.Format, spec output.Spec[T], fetch Fetch[T]) error {
	v, err := Do(ctx, f, fetch)
	if err != nil {
		return err
	}
	return output.PrintOne(output.NewPrinter(f, format), spec, v)
}

// List prints the items fetch reads through spec.
func List[T any](ctx context.Context, f *cmdutil.Factory, format output.Format, spec output.Spec[T], fetch Fetch[[]T]) error {
	items, err := Do(ctx, f, fetch)
	if err != nil {
		return err
	}
	return output.PrintList(output.NewPrinter(f, format), spec, items)
}

// Change runs write, reports its result on stderr with message and prints the item it
// returned through spec.
func Change[T any](ctx context.Context, f *cmdutil.Factory, format output.Format, spec output.Spec[T], write Fetch[T], message func(T) string) error {
	v, err := Do(ctx, f, write)
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "%s", message(v))
	return output.PrintOne(output.NewPrinter(f, format), spec, v)
}

// Issue describes a newly issued PAK.
type Issue struct {
	// Message reports the write on stderr ("Created agent ...").
	Message string
	// Holder names the PAK's holder in the warning ("agent edge-1").
	Holder string
	// PAK is the key itself.
	PAK string
}

// IssuePAK runs write, which issues a PAK, reports it and prints the PAK (output.PrintPAK).
func IssuePAK[T any](ctx context.Context, f *cmdutil.Factory, format output.Format, write Fetch[T], issue func(T) Issue) error {
	v, err := Do(ctx, f, write)
	if err != nil {
		return err
	}
	is := issue(v)
	output.Successf(f.IOStreams, "%s", is.Message)
	return output.PrintPAK(f.IOStreams, format, is.Holder, is.PAK, v)
}

// Deletion describes deleting one resolved item.
type Deletion[T any] struct {
	// Find resolves the item; the question names it.
	Find Fetch[T]
	// Question is asked on a terminal unless --yes was given.
	Question func(T) string
	// Delete deletes the item.
	Delete func(context.Context, *client.Client, T) error
	// Done reports the deletion on stderr.
	Done func(T) string
}

// Delete resolves the item, asks for confirmation (cmdutil.ConfirmDestructive), deletes it
// and reports it.
func Delete[T any](ctx context.Context, f *cmdutil.Factory, yes bool, d Deletion[T]) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	v, err := d.Find(ctx, c)
	if err != nil {
		return err
	}
	if err := cmdutil.ConfirmDestructive(f, yes, d.Question(v)); err != nil {
		return err
	}
	if err := d.Delete(ctx, c, v); err != nil {
		return err
	}
	output.Successf(f.IOStreams, "%s", d.Done(v))
	return nil
}

// deleteKnown deletes what needs no lookup (an id given as is): it asks first, then deletes
// and reports.
func deleteKnown(ctx context.Context, f *cmdutil.Factory, yes bool, question string, del func(context.Context, *client.Client) error, done string) error {
	if err := cmdutil.ConfirmDestructive(f, yes, question); err != nil {
		return err
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	if err := del(ctx, c); err != nil {
		return err
	}
	output.Successf(f.IOStreams, "%s", done)
	return nil
}
