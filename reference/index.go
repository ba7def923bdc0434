package reference

import "hash/maphash"

// uidIndex finds live sessions by uid. A map keyed by the 32-byte uid
// itself would spend about 100 bytes per session on slots; this one is
// keyed by a 64-bit seeded hash of the uid, a quarter of the slot, and
// stays exact: a session whose hash is already taken by another uid goes
// into a second map keyed by the whole uid. With a random seed per site
// that second map is empty in practice, whatever the uids, so a lookup
// is one hash and one map probe, and a miss checks only its length.
//
// Invariant: every session is in byHash under its hash, or else in
// overflow under its uid while another session holds its hash in byHash.
type uidIndex struct {
	seed     maphash.Seed
	mask     uint64 // all ones; a test clears bits to force collisions
	byHash   map[uint64]*Session
	overflow map[[uidBytes]byte]*Session
}

func newUIDIndex() uidIndex {
	return uidIndex{seed: maphash.MakeSeed(), mask: ^uint64(0), byHash: make(map[uint64]*Session)}
}

func (x *uidIndex) hash(id *[uidBytes]byte) uint64 { return maphash.Bytes(x.seed, id[:]) & x.mask }

func (x *uidIndex) len() int { return len(x.byHash) + len(x.overflow) }

func (x *uidIndex) get(id *[uidBytes]byte) *Session {
	if s := x.byHash[x.hash(id)]; s != nil && s.id == *id {
		return s
	}
	if len(x.overflow) > 0 {
		return x.overflow[*id]
	}
	return nil
}

// add indexes s and reports true, or reports false if its uid is taken.
func (x *uidIndex) add(s *Session) bool {
	h := x.hash(&s.id)
	held := x.byHash[h]
	switch {
	case held == nil:
		x.byHash[h] = s
		return true
	case held.id == s.id:
		return false
	}
	if _, taken := x.overflow[s.id]; taken {
		return false
	}
	if x.overflow == nil {
		x.overflow = make(map[[uidBytes]byte]*Session)
	}
	x.overflow[s.id] = s
	return true
}

// remove drops s, which must be indexed.
func (x *uidIndex) remove(s *Session) {
	h := x.hash(&s.id)
	if len(x.overflow) == 0 {
		delete(x.byHash, h) // the common case: s can only be here
		return
	}
	if x.byHash[h] != s {
		delete(x.overflow, s.id)
		return
	}
	delete(x.byHash, h)
	// Keep the invariant: a session waiting for this hash takes it.
	for id, o := range x.overflow {
		if x.hash(&id) == h {
			x.byHash[h] = o
			delete(x.overflow, id)
			break
		}
	}
}
