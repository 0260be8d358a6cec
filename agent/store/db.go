package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The database layout: one bucket per kind of record, keyed by big-endian
// uint64 IDs (so that bbolt's byte order is the numeric order) for syncs
// and drift events, by name for the agent's state; values are JSON. The
// meta bucket holds the schema version.
var (
	bucketMeta   = []byte("meta")
	bucketSyncs  = []byte("syncs")
	bucketDrifts = []byte("drifts")
	bucketState  = []byte("state")
	keySchema    = []byte("schema")
)

// SchemaVersion is the version of the database layout this package writes.
// A database of a newer version is refused: an older agent must not guess
// at it.
const SchemaVersion = 1

// DefaultRetain is how many syncs (and drift events) are kept when Open is
// given no bound.
const DefaultRetain = 1000

// OpenTimeout is how long Open waits for the database file's lock, which
// another process (another agent on the same data directory) may hold.
const OpenTimeout = 5 * time.Second

// interruptedReason is the Reason of a sync found running when the store
// is opened: the agent that ran it is gone.
const interruptedReason = "the agent stopped during this sync"

// ErrNotFound is returned for a sync (or drift event) ID the store does
// not have, or no longer has after retention dropped it.
var ErrNotFound = errors.New("not found")

// Store is the agent's history in one bbolt file. All methods are safe for
// concurrent use: bbolt serialises writers and lets readers run in
// parallel.
type Store struct {
	db     *bolt.DB
	path   string
	retain int
}

// Open opens (creating it with mode 0600 when missing) the history at path.
// It waits at most OpenTimeout for the file's lock. Every sync still
// recorded as running was cut short by an earlier agent that stopped: it
// is marked ResultInterrupted, ended now. retain bounds the syncs and the
// drift events kept, the oldest being dropped first (DefaultRetain when
// retain <= 0).
func Open(path string, retain int) (*Store, error) {
	if retain <= 0 {
		retain = DefaultRetain
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open history %s: the file is locked by another process (locked by another agent?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	s := &Store{db: db, path: path, retain: retain}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// init creates the buckets, checks the schema version and marks the
// syncs an earlier agent left running as interrupted.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSyncs, bucketDrifts, bucketState} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("open history %s: create bucket %s: %w", s.path, name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); v != nil {
			n, err := strconv.Atoi(string(v))
			switch {
			case err != nil:
				return fmt.Errorf("open history %s: bad schema version %q", s.path, v)
			case n > SchemaVersion:
				return fmt.Errorf("open history %s: schema version %d was written by a newer agent (this one reads version %d)", s.path, n, SchemaVersion)
			}
		}
		if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return fmt.Errorf("open history %s: write schema version: %w", s.path, err)
		}
		return s.markInterrupted(tx)
	})
}

// markInterrupted ends every running sync as interrupted.
func (s *Store) markInterrupted(tx *bolt.Tx) error {
	b := tx.Bucket(bucketSyncs)
	var found []*Sync
	err := b.ForEach(func(k, v []byte) error {
		var x Sync
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("open history %s: decode sync %d: %w", s.path, binary.BigEndian.Uint64(k), err)
		}
		if x.Result == ResultRunning {
			found = append(found, &x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now()
	for _, x := range found {
		x.Result, x.Ended, x.Reason = ResultInterrupted, now, interruptedReason
		for i := range x.Hosts {
			if x.Hosts[i].Result == ResultRunning {
				x.Hosts[i].Result = ResultInterrupted
			}
		}
		if err := put(b, x.ID, x); err != nil {
			return fmt.Errorf("open history %s: mark sync %d interrupted: %w", s.path, x.ID, err)
		}
	}
	return nil
}

// Close closes the database file, releasing its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close history %s: %w", s.path, err)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Check runs bbolt's consistency check over the whole file and returns
// every problem it finds, joined; nil means the file is sound.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// BeginSync records x as running: it sets x.Result to ResultRunning (and
// x.Started to now when unset) and assigns x.ID, greater than every ID
// assigned before. The oldest syncs beyond the retention bound are dropped.
func (s *Store) BeginSync(x *Sync) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSyncs)
		id, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("begin sync: %w", err)
		}
		x.ID, x.Result = id, ResultRunning
		if x.Started.IsZero() {
			x.Started = time.Now()
		}
		if err := put(b, id, x); err != nil {
			return fmt.Errorf("begin sync %d: %w", id, err)
		}
		return s.trim(b)
	})
}

// EndSync stores x, which BeginSync recorded, in its final state (x.Ended
// is set to now when unset), then drops the oldest syncs beyond the
// retention bound.
func (s *Store) EndSync(x *Sync) error {
	if x.ID == 0 {
		return errors.New("end sync: the sync has no ID (BeginSync was not called)")
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSyncs)
		if b.Get(key(x.ID)) == nil {
			return fmt.Errorf("end sync %d: %w", x.ID, ErrNotFound)
		}
		if x.Ended.IsZero() {
			x.Ended = time.Now()
		}
		if err := put(b, x.ID, x); err != nil {
			return fmt.Errorf("end sync %d: %w", x.ID, err)
		}
		return s.trim(b)
	})
}

// Syncs returns the newest limit syncs, newest first (every sync when
// limit <= 0).
func (s *Store) Syncs(limit int) ([]*Sync, error) {
	var out []*Sync
	err := s.db.View(func(tx *bolt.Tx) error {
		return newest(tx.Bucket(bucketSyncs), limit, func(v []byte) error {
			x := &Sync{}
			if err := json.Unmarshal(v, x); err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list syncs: %w", err)
	}
	return out, nil
}

// Sync returns the sync with this ID, or an error wrapping ErrNotFound.
func (s *Store) Sync(id uint64) (*Sync, error) {
	x := &Sync{}
	if err := s.get(bucketSyncs, id, x); err != nil {
		return nil, fmt.Errorf("read sync %d: %w", id, err)
	}
	return x, nil
}

// AddDrift records a drift event, assigning d.ID (and d.Time when unset),
// then drops the oldest events beyond the retention bound.
func (s *Store) AddDrift(d *Drift) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDrifts)
		id, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("add drift: %w", err)
		}
		d.ID = id
		if d.Time.IsZero() {
			d.Time = time.Now()
		}
		if err := put(b, id, d); err != nil {
			return fmt.Errorf("add drift %d: %w", id, err)
		}
		return s.trim(b)
	})
}

// UpdateDrift replaces the drift event with d's ID, e.g. to record that
// self-heal corrected it (Corrected, SyncID).
func (s *Store) UpdateDrift(d *Drift) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDrifts)
		if b.Get(key(d.ID)) == nil {
			return fmt.Errorf("update drift %d: %w", d.ID, ErrNotFound)
		}
		if err := put(b, d.ID, d); err != nil {
			return fmt.Errorf("update drift %d: %w", d.ID, err)
		}
		return nil
	})
}

// Drifts returns the newest limit drift events, newest first (every event
// when limit <= 0).
func (s *Store) Drifts(limit int) ([]*Drift, error) {
	var out []*Drift
	err := s.db.View(func(tx *bolt.Tx) error {
		return newest(tx.Bucket(bucketDrifts), limit, func(v []byte) error {
			d := &Drift{}
			if err := json.Unmarshal(v, d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list drifts: %w", err)
	}
	return out, nil
}

// SetState stores v, as JSON, under key: small values of the agent's own
// state (paused roles, the revision applied to each host, ...).
func (s *Store) SetState(key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("set state %s: %w", key, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketState).Put([]byte(key), data); err != nil {
			return fmt.Errorf("set state %s: %w", key, err)
		}
		return nil
	})
}

// GetState decodes the value stored under key into v. It reports false,
// leaving v alone, when there is none.
func (s *Store) GetState(key string, v any) (bool, error) {
	var data []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketState).Get([]byte(key)); b != nil {
			data = append([]byte(nil), b...) // valid only inside the tx
		}
		return nil
	})
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("get state %s: %w", key, err)
	}
	return true, nil
}

// DeleteState removes the value stored under key, if any.
func (s *Store) DeleteState(key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketState).Delete([]byte(key)); err != nil {
			return fmt.Errorf("delete state %s: %w", key, err)
		}
		return nil
	})
}

// trim drops the oldest entries of b beyond the retention bound.
func (s *Store) trim(b *bolt.Bucket) error {
	// Counted with a cursor: Bucket.Stats sees only committed pages, not
	// this transaction's writes.
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	extra := n - s.retain
	if extra <= 0 {
		return nil
	}
	// Keys first, deletes after: deleting under a cursor can make it
	// skip entries.
	var old [][]byte
	for k, _ := c.First(); k != nil && len(old) < extra; k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("drop old entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
	}
	return nil
}

// get decodes the entry id of a bucket into v.
func (s *Store) get(bucket []byte, id uint64, v any) error {
	var data []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket).Get(key(id)); b != nil {
			data = append([]byte(nil), b...)
		}
		return nil
	})
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

// newest calls fn with the values of b from the last key backwards, at
// most limit of them (all when limit <= 0).
func newest(b *bolt.Bucket, limit int, fn func(v []byte) error) error {
	c := b.Cursor()
	n := 0
	for k, v := c.Last(); k != nil && (limit <= 0 || n < limit); k, v = c.Prev() {
		if err := fn(v); err != nil {
			return fmt.Errorf("decode entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		n++
	}
	return nil
}

// put stores v as JSON under id.
func put(b *bolt.Bucket, id uint64, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key(id), data)
}

// key is the big-endian form of id, which sorts like the number.
func key(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}
