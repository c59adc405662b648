package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The write-ahead log. An append is durable once its record is in the log
// and the log is synced: one fdatasync per batch, into a file whose size
// does not change, where a bbolt commit takes two syncs plus the pages of
// its B+tree. The applier copies logged events into the bbolt file behind
// the publishers, many batches in one transaction, and a segment of the
// log is written again once everything in it is applied.
//
// The log is two segment files beside the journal's: <path>-wal.0 and
// <path>-wal.1. Each is written in laps; a lap starts at the top of the
// file with a header, and its records follow:
//
//	header  (walHeaderSize bytes, the rest zero)
//	  magic       8 bytes "HRLDWAL1"
//	  lap         8 bytes big-endian, one more than the lap before it
//	  epoch       2 bytes length + bytes: the journal's epoch
//	  crc         4 bytes CRC-32C of the above
//	record
//	  length      4 bytes big-endian: of the event record
//	  crc         4 bytes CRC-32C of the lap, length, position and record
//	  position    8 bytes big-endian
//	  record      the event's record (see codec.go), its time stamped
//
// A record whose CRC does not hold ends the segment: it was torn by a
// crash, or was left by an earlier lap (its CRC covers that lap's
// number), or is the zero fill ahead of the last record. Open replays the
// records of both segments, the older lap first, that the bbolt file does
// not hold yet.
const (
	walMagic       = "HRLDWAL1"
	walHeaderSize  = 512
	walFrameHeader = 16
	// walGrow is how far ahead of its records a segment is filled with
	// zeros: a sync after a write that stays inside the file's size has
	// no size to record, which halves its cost on ext4 (measured in
	// docs/benchmarks.md).
	walGrow = 1 << 20
	// walProbeSize is how much a probe of the log writes.
	walProbeSize = 4096
)

var (
	// walSegmentSize is where the log moves to its other segment, once
	// everything logged there is applied. A variable for tests.
	walSegmentSize int64 = 16 << 20
	// walSegmentMax, in segment sizes, is how far a segment grows while
	// the other one still holds events not applied; past it, appends wait
	// for the applier.
	walSegmentMax int64 = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// segment is one file of the log, as the committer writes it.
type segment struct {
	f    *os.File
	path string
	// lap is the lap being written; fresh reports that its header is not
	// on disk yet (it goes with the lap's first records).
	lap   uint64
	fresh bool
	// off is where the next record goes.
	off int64
	// filled is how much of the file is written, with records or zeros.
	filled int64
	// last is the newest position logged in the segment's current lap;
	// the segment can start a new lap once it is applied.
	last uint64
	// dirty, when above off, is the end of what a failed write may have
	// left past off. The next write covers it with zeros, so that records
	// refused to their publishers are never replayed.
	dirty int64
	// noSync skips the syncs (Options.NoSync).
	noSync bool
}

// loggedRecord is a record read back from a segment.
type loggedRecord struct {
	seq    uint64
	record []byte
}

// walPaths are the paths of the log's segments for the journal at path.
func walPaths(path string) [2]string {
	return [2]string{path + "-wal.0", path + "-wal.1"}
}

// openSegment opens, creating if need be, the segment at path, and reads
// the lap it holds, if any: its number and its records, in order. A
// segment whose header does not hold, or names another epoch, holds no
// lap (lap 0).
func openSegment(path, epoch string) (*segment, []loggedRecord, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("journal/bolt: write-ahead log: %w", err)
	}
	s := &segment{f: f, path: path, fresh: true, off: walHeaderSize}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("journal/bolt: write-ahead log %s: %w", path, err)
	}
	s.filled = int64(len(data))
	if len(data) == 0 {
		// A new file: make its name durable with the directory.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("journal/bolt: write-ahead log: %w", err)
		}
		return s, nil, nil
	}
	lap, ok := parseHeader(data, epoch)
	if !ok {
		return s, nil, nil
	}
	s.lap = lap
	var records []loggedRecord
	off := walHeaderSize
	for {
		seq, record, next, ok := parseFrame(data, off, lap)
		if !ok || len(records) > 0 && seq <= records[len(records)-1].seq {
			break
		}
		records = append(records, loggedRecord{seq: seq, record: record})
		off = next
	}
	return s, records, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// appendHeader appends the header of lap, without its zero padding.
func appendHeader(b []byte, lap uint64, epoch string) []byte {
	start := len(b)
	b = append(b, walMagic...)
	b = binary.BigEndian.AppendUint64(b, lap)
	b = binary.BigEndian.AppendUint16(b, uint16(len(epoch)))
	b = append(b, epoch...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// parseHeader returns the lap of a segment's header, if it holds and
// names epoch.
func parseHeader(data []byte, epoch string) (uint64, bool) {
	want := appendHeader(nil, 0, epoch)
	if len(data) < walHeaderSize || len(want) > walHeaderSize || !bytes.HasPrefix(data, []byte(walMagic)) {
		return 0, false
	}
	lap := binary.BigEndian.Uint64(data[len(walMagic):])
	if !bytes.Equal(data[:len(want)], appendHeader(nil, lap, epoch)) || lap == 0 {
		return 0, false
	}
	return lap, true
}

// appendFrame appends the log record of the event record at seq in lap.
func appendFrame(b []byte, lap, seq uint64, record []byte) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(len(record)))
	b = binary.BigEndian.AppendUint32(b, 0) // the CRC, below
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, record...)
	binary.BigEndian.PutUint32(b[start+4:], frameCRC(lap, b[start:start+4], b[start+8:]))
	return b
}

// frameCRC is the CRC of a record of lap: over the lap, the length and
// what follows the CRC (position and record).
func frameCRC(lap uint64, length, rest []byte) uint32 {
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], lap)
	crc := crc32.Update(0, crcTable, l[:])
	crc = crc32.Update(crc, crcTable, length)
	return crc32.Update(crc, crcTable, rest)
}

// parseFrame reads the record of lap at off in data; ok is false where
// none is (the end of the lap).
func parseFrame(data []byte, off int, lap uint64) (seq uint64, record []byte, next int, ok bool) {
	if off+walFrameHeader > len(data) {
		return 0, nil, 0, false
	}
	n := int(binary.BigEndian.Uint32(data[off:]))
	end := off + walFrameHeader + n
	if n < headerLen || end > len(data) || end < off {
		return 0, nil, 0, false
	}
	if binary.BigEndian.Uint32(data[off+4:]) != frameCRC(lap, data[off:off+4], data[off+8:end]) {
		return 0, nil, 0, false
	}
	seq = binary.BigEndian.Uint64(data[off+8:])
	return seq, data[off+walFrameHeader : end], end, seq != 0
}

// write logs frames, records of the segment's lap ending at position
// last, and syncs them: with the lap's header if it is the first write of
// the lap, with zeros over what an earlier failed write left beyond them,
// and with the zero fill that keeps the file ahead of its records. The
// segment's state moves on only if all of it succeeded.
func (s *segment) write(frames []byte, last uint64, epoch string) error {
	end := s.off + int64(len(frames))
	if s.dirty > end {
		frames = append(frames, make([]byte, s.dirty-end)...)
	}
	written := s.off + int64(len(frames))
	err := s.writeAt(frames, s.off, epoch)
	if err == nil && !s.noSync {
		err = datasync(s.f)
	}
	if err != nil {
		s.dirty = max(s.dirty, written)
		return fmt.Errorf("journal/bolt: write-ahead log %s: %w", s.path, err)
	}
	s.fresh, s.dirty = false, 0
	s.off, s.last = end, last
	return nil
}

// writeAt writes b at off, after the fill ahead and, for a fresh lap, its
// header; it does not sync.
func (s *segment) writeAt(b []byte, off int64, epoch string) error {
	if need := off + int64(len(b)); need > s.filled {
		if err := s.fill((need + walGrow - 1) / walGrow * walGrow); err != nil {
			return err
		}
	}
	if s.fresh {
		header := make([]byte, walHeaderSize)
		appendHeader(header[:0], s.lap, epoch)
		if _, err := s.f.WriteAt(header, 0); err != nil {
			return err
		}
	}
	_, err := s.f.WriteAt(b, off)
	return err
}

// fill writes zeros from the end of what is filled to size.
func (s *segment) fill(size int64) error {
	zeros := make([]byte, min(size-s.filled, walGrow))
	for s.filled < size {
		n := min(int64(len(zeros)), size-s.filled)
		if _, err := s.f.WriteAt(zeros[:n], s.filled); err != nil {
			return err
		}
		s.filled += n
	}
	return nil
}

// probe writes and syncs zeros where the next records go, over what a
// failed write left there: what the next append needs to succeed.
func (s *segment) probe(epoch string) error {
	size := max(s.dirty-s.off, walProbeSize)
	if err := s.writeAt(make([]byte, size), s.off, epoch); err != nil {
		return err
	}
	if !s.noSync {
		if err := datasync(s.f); err != nil {
			return err
		}
	}
	// The header of a fresh lap went with it, harmlessly: the lap holds
	// no record yet.
	s.fresh, s.dirty = false, 0
	return nil
}

// wal is the log as the committer writes it: two segments, one of them
// active.
type wal struct {
	epoch  string
	segs   [2]*segment
	active int
}

// openWAL opens the log of the journal at path and returns the records it
// holds past position applied (the bbolt file's last), in order. It
// starts a new lap in the segment holding the older one, so that nothing
// left in either from before this Open — a record torn by a crash, or
// written whole but beyond one that was torn — is ever read again.
func openWAL(path, epoch string, applied uint64, noSync bool) (*wal, []loggedRecord, error) {
	w := &wal{epoch: epoch}
	var logged [2][]loggedRecord
	for i, p := range walPaths(path) {
		s, records, err := openSegment(p, epoch)
		if err != nil {
			w.close()
			return nil, nil, err
		}
		s.noSync = noSync
		w.segs[i], logged[i] = s, records
	}
	older := 0
	if w.segs[1].lap < w.segs[0].lap {
		older = 1
	}
	var replay []loggedRecord
	for _, i := range []int{older, 1 - older} {
		for _, r := range logged[i] {
			if r.seq <= applied {
				continue
			}
			if len(replay) > 0 && r.seq <= replay[len(replay)-1].seq {
				break
			}
			replay = append(replay, r)
		}
	}
	newer := w.segs[1-older]
	w.active = older
	s := w.segs[older]
	s.lap, s.fresh, s.off, s.last = newer.lap+1, true, walHeaderSize, 0
	// What the newer segment holds is applied once Open has replayed it.
	newer.last = 0
	return w, replay, nil
}

// lap is the lap of the active segment, which the next records are
// written in.
func (w *wal) lap() uint64 { return w.segs[w.active].lap }

// room makes the active segment one that can take records: the other
// segment once the active one is full, if everything in the other is
// applied. It reports false when the active segment is past
// walSegmentMax and the other is not applied yet.
func (w *wal) room(applied uint64) bool {
	s := w.segs[w.active]
	if s.off < walSegmentSize || s.dirty > s.off {
		// A failed write is covered in the segment it was made in.
		return s.off < walSegmentMax*walSegmentSize || s.dirty > s.off
	}
	o := w.segs[1-w.active]
	if o.last > applied {
		return s.off < walSegmentMax*walSegmentSize
	}
	o.lap, o.fresh, o.off, o.last, o.dirty = s.lap+1, true, walHeaderSize, 0, 0
	w.active = 1 - w.active
	return true
}

// write logs frames, records of the active lap ending at position last,
// and syncs them.
func (w *wal) write(frames []byte, last uint64) error {
	return w.segs[w.active].write(frames, last, w.epoch)
}

// probe tests that the next write can succeed.
func (w *wal) probe() error {
	s := w.segs[w.active]
	if err := s.probe(w.epoch); err != nil {
		return fmt.Errorf("journal/bolt: write-ahead log %s: %w", s.path, err)
	}
	return nil
}

func (w *wal) close() error {
	var errs []error
	for _, s := range w.segs {
		if s != nil {
			errs = append(errs, s.f.Close())
		}
	}
	return errors.Join(errs...)
}
