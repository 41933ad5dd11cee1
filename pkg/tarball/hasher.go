package tarball

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
)

// hasher hashes file contents on a goroutine of its own, in the order
// they come, so that reading the archive (decompression) and hashing run
// on two cores at once. A content is read whole into a buffer first; a
// buffer not kept by the caller goes back to a pool once hashed.
type hasher struct {
	jobs chan hashJob
	done chan struct{}
	sums map[int]string // written by the goroutine
	// inline are the sums of large contents not kept, hashed as they
	// are read (no buffer the size of a 100 MB binary).
	inline map[int]string
	pool   sync.Pool
	once   sync.Once
}

type hashJob struct {
	i     int
	b     []byte
	reuse bool
}

// hasherQueue is how many contents may wait to be hashed; a content not
// kept and larger than hashInline is hashed where it is read, and pooled
// buffers have at least poolMin bytes (most files are smaller).
const (
	hasherQueue = 64
	hashInline  = 1 << 20
	poolMin     = 64 << 10
)

func newHasher() *hasher {
	hs := &hasher{jobs: make(chan hashJob, hasherQueue), done: make(chan struct{}), sums: map[int]string{}, inline: map[int]string{}}
	go func() {
		defer close(hs.done)
		for j := range hs.jobs {
			s := sha256.Sum256(j.b)
			hs.sums[j.i] = hex.EncodeToString(s[:])
			if j.reuse {
				hs.pool.Put(&j.b)
			}
		}
	}()
	return hs
}

// add hashes file i's content of size bytes, read from r: returned
// (in a buffer of its own) when the caller keeps it, else read into a
// pooled buffer, or hashed as it is read when large.
func (hs *hasher) add(i int, r io.Reader, size int64, keep bool) ([]byte, error) {
	if !keep && size > hashInline {
		s := sha256.New()
		if _, err := io.Copy(s, r); err != nil {
			return nil, err
		}
		hs.inline[i] = hex.EncodeToString(s.Sum(nil))
		return nil, nil
	}
	var b []byte
	if keep {
		b = make([]byte, size)
	} else if p, ok := hs.pool.Get().(*[]byte); ok && int64(cap(*p)) >= size {
		b = (*p)[:size]
	} else {
		b = make([]byte, size, max(size, poolMin))
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	hs.jobs <- hashJob{i, b, !keep}
	return b, nil
}

// wait returns every file's hash, by index, once all are hashed.
func (hs *hasher) wait() map[int]string {
	hs.stop()
	<-hs.done
	for i, s := range hs.inline {
		hs.sums[i] = s
	}
	return hs.sums
}

// stop ends the goroutine (after the queued jobs).
func (hs *hasher) stop() { hs.once.Do(func() { close(hs.jobs) }) }
