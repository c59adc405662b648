package journal

import "context"

// ReadBatches is the Read loop that journals share: it calls fetch for
// batches of up to size events with after < Seq <= until, and fn for each
// event in order, until fetch returns nothing, fn fails or ctx ends. Only one
// batch is held at a time, and no lock of fetch's while fn runs.
func ReadBatches(ctx context.Context, after, until uint64, size int,
	fetch func(after, until uint64, buf []*Event) ([]*Event, error), fn func(*Event) error) error {
	batch := make([]*Event, 0, size)
	for after < until {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		batch, err = fetch(after, until, batch[:0])
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, ev := range batch {
			if err := fn(ev); err != nil {
				return err
			}
			after = ev.Seq
		}
	}
	return nil
}
