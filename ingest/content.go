package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// Content is an upload's bytes with their size and SHA-256 known before
// they are stored. Detect reads it at offsets (the head, a zip's central
// directory); Create copies it into Postgres part by part. Neither holds
// it whole in memory.
type Content interface {
	io.ReaderAt
	Size() int64
	SHA256() [sha256.Size]byte
}

// BytesContent is Content held in memory: text uploads, and tests.
func BytesContent(b []byte) Content {
	return &memContent{Reader: bytes.NewReader(b), size: int64(len(b)), sum: sha256.Sum256(b)}
}

type memContent struct {
	*bytes.Reader
	size int64
	sum  [sha256.Size]byte
}

func (m *memContent) Size() int64               { return m.size }
func (m *memContent) SHA256() [sha256.Size]byte { return m.sum }

// ErrTooLarge: an upload had more bytes than the limit given to NewSpool.
var ErrTooLarge = errors.New("the upload is larger than the limit")

// Spool is Content kept in a temporary file while an upload is checked and
// stored, so that a large upload costs disk, not memory. The file is
// removed from its directory as soon as it is created: only the open
// descriptor keeps it, so nothing is left behind on any path, a crash
// included, and Close frees the space.
type Spool struct {
	f    *os.File
	size int64
	sum  [sha256.Size]byte
}

// spoolBuffer batches the small reads of a multipart part into larger
// writes to the file.
const spoolBuffer = 64 << 10

// NewSpool copies r into a new Spool in dir (os.TempDir() when empty),
// hashing the bytes as they arrive. More than limit bytes is ErrTooLarge;
// an error of r is returned as it is (wrapped). On error nothing remains.
func NewSpool(dir string, r io.Reader, limit int64) (*Spool, error) {
	f, err := os.CreateTemp(dir, "ragd-upload-*")
	if err != nil {
		return nil, fmt.Errorf("create upload spool: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlink upload spool: %w", err)
	}
	s := &Spool{f: f}
	h := sha256.New()
	if err := s.fill(r, limit, h); err != nil {
		f.Close()
		return nil, err
	}
	h.Sum(s.sum[:0])
	return s, nil
}

func (s *Spool) fill(r io.Reader, limit int64, h hash.Hash) error {
	w := bufio.NewWriterSize(io.MultiWriter(s.f, h), spoolBuffer)
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	if n > limit {
		return ErrTooLarge
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write upload spool: %w", err)
	}
	s.size = n
	return nil
}

// ReadAt reads the spooled bytes at off.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	if rest := s.size - off; int64(len(p)) > rest {
		n, err := s.f.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return s.f.ReadAt(p, off)
}

// Size is the number of bytes spooled.
func (s *Spool) Size() int64 { return s.size }

// SHA256 is the SHA-256 of the bytes spooled.
func (s *Spool) SHA256() [sha256.Size]byte { return s.sum }

// Close frees the file. Closing twice is harmless.
func (s *Spool) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
