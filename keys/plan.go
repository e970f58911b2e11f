package keys

import (
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// dryRun stands in for key generation when plan only asks whether
// anything is due.
func dryRun(string, string, time.Time) (storage.SigningKey, error) {
	return storage.SigningKey{ID: "pending"}, nil
}

// lineages returns the algorithm of each line of keys the manager keeps:
// Options.Algorithm's, which signs access tokens, and, when that is not
// RS256, an RS256 line that signs ID tokens, because OpenID Connect
// Discovery 1.0 section 3 requires every provider to support RS256 ID
// tokens and relying parties assume it (README, Architecture: "ID tokens
// have their own RS256 line of keys").
func (o Options) lineages() []string {
	if o.Algorithm == RS256 {
		return []string{RS256}
	}
	return []string{o.Algorithm, RS256}
}

// lineageOf returns the lineage a key of algorithm alg belongs to. Keys of
// an algorithm no longer configured stay in the access-token line and
// finish their lifecycle there.
func (o Options) lineageOf(alg string) string {
	if alg == RS256 {
		return RS256
	}
	return o.Algorithm
}

// signs names what the line of a key of algorithm alg signs (Info.Signs).
func (o Options) signs(alg string) string {
	switch {
	case o.Algorithm == RS256:
		return "access_token id_token"
	case alg == RS256:
		return "id_token"
	}
	return "access_token"
}

// planAll runs plan on each lineage (see Options.lineages) and returns the
// keys of all of them. A key of another algorithm than its lineage's
// (left from before Algorithm changed) finishes its lifecycle in the
// access-token lineage. generate makes a key of the given algorithm.
func planAll(o Options, old []storage.SigningKey, now time.Time, force bool,
	generate func(alg, state string, now time.Time) (storage.SigningKey, error)) (out []storage.SigningKey, changed bool, err error) {
	for _, alg := range o.lineages() {
		var part []storage.SigningKey
		for _, k := range old {
			if o.lineageOf(k.Algorithm) == alg {
				part = append(part, k)
			}
		}
		p, c, err := plan(o, part, now, force, func(state string, now time.Time) (storage.SigningKey, error) {
			return generate(alg, state, now)
		})
		if err != nil {
			return nil, false, err
		}
		out, changed = append(out, p...), changed || c
	}
	return out, changed, nil
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
