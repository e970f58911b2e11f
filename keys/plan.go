package keys

import (
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// dryRun stands in for key generation when plan only asks whether
// anything is due.
func dryRun(string, time.Time) (storage.SigningKey, error) {
	return storage.SigningKey{ID: "pending"}, nil
}

// plan returns the keys as they should be at now: expired keys deleted, an
// active key (promoting the next key when the active one is due and the
// next one has been published long enough), and a next key. With force the
// active key is due now (a rotation on demand). changed reports whether
// anything differs from old. It is pure: it reads only its arguments, and
// writes nothing but what generate does.
func plan(o Options, old []storage.SigningKey, now time.Time, force bool,
	generate func(state string, now time.Time) (storage.SigningKey, error)) (out []storage.SigningKey, changed bool, err error) {
	out = make([]storage.SigningKey, 0, len(old)+1)
	active, next := -1, -1
	for _, k := range old {
		if (k.State == storage.KeyRetired || k.State == storage.KeyRevoked) && !k.DeleteAfter.IsZero() && !now.Before(k.DeleteAfter) {
			changed = true // deleted
			continue
		}
		out = append(out, k)
		i := len(out) - 1
		switch k.State {
		case storage.KeyActive:
			if active < 0 || k.ActivatedAt.After(out[active].ActivatedAt) {
				active = i
			}
		case storage.KeyNext:
			if next < 0 || k.CreatedAt.Before(out[next].CreatedAt) {
				next = i
			}
		}
	}
	retire := func(i int) {
		out[i].State, out[i].RetiredAt, out[i].DeleteAfter, out[i].UpdatedAt = storage.KeyRetired, now, now.Add(o.retention()), now
	}
	promote := func(i int) {
		out[i].State, out[i].ActivatedAt, out[i].RetireAt, out[i].UpdatedAt = storage.KeyActive, now, now.Add(o.RotationPeriod), now
	}
	// More than one active key (never written by this code): keep the
	// newest signing and retire the others.
	for i, k := range out {
		if k.State == storage.KeyActive && i != active {
			retire(i)
			changed = true
		}
	}
	if active >= 0 && force && out[active].RetireAt.After(now) {
		out[active].RetireAt, out[active].UpdatedAt = now, now
		changed = true
	}
	switch {
	case active < 0 && next >= 0:
		// Nothing signs: the next key takes over whatever its age.
		promote(next)
		active, next, changed = next, -1, true
	case active < 0:
		k, err := generate(storage.KeyActive, now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, k)
		active, changed = len(out)-1, true
	case !now.Before(out[active].RetireAt) && next >= 0 && !now.Before(out[next].ActivateAt):
		retire(active)
		promote(next)
		active, next, changed = next, -1, true
	}
	if next < 0 {
		k, err := generate(storage.KeyNext, now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, k)
		changed = true
	}
	return out, changed, nil
}
