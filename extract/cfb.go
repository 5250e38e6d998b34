package extract

import (
	"bytes"
	"encoding/binary"
	"io"
	"unicode/utf16"
)

// Microsoft's Compound File Binary format (OLE2) holds the legacy binary
// Office files (.doc, .xls, .ppt) and, since Office 2007, every
// password-protected .docx, .xlsx and .pptx: the encrypted package is a
// stream named EncryptedPackage inside such a container. ragd reads
// neither; what it can do is say which one a file is, so that the person
// who uploaded it knows what to do (save without a password, or save in
// the newer format).

// cfbMagic starts every compound file.
var cfbMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// maxCFBDirSectors bounds the directory sectors read looking for the
// encrypted package's stream (an encrypted package's directory has a
// handful of entries, in its first sector).
const maxCFBDirSectors = 64

// isCFB reports whether head starts a compound file.
func isCFB(head []byte) bool { return bytes.HasPrefix(head, cfbMagic) }

// cfbEncrypted reports whether the compound file r holds a stream named
// EncryptedPackage: an encrypted OOXML document. It follows the
// directory's sector chain through the FAT (the sectors the header's
// first 109 DIFAT entries name), at most maxCFBDirSectors sectors; a
// damaged file is reported as not encrypted.
func cfbEncrypted(r io.ReaderAt, size int64) bool {
	var hdr [512]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil || !isCFB(hdr[:]) {
		return false
	}
	shift := binary.LittleEndian.Uint16(hdr[0x1E:])
	if shift != 9 && shift != 12 {
		return false
	}
	sectorSize := int64(1) << shift
	perFAT := sectorSize / 4
	next := func(s uint32) (uint32, bool) {
		idx := int64(s) / perFAT
		if idx >= 109 {
			return 0, false
		}
		fatSector := binary.LittleEndian.Uint32(hdr[0x4C+4*idx:])
		var b [4]byte
		off := (int64(fatSector)+1)*sectorSize + (int64(s)%perFAT)*4
		if fatSector >= 0xFFFFFFFA || off+4 > size {
			return 0, false
		}
		if _, err := r.ReadAt(b[:], off); err != nil {
			return 0, false
		}
		return binary.LittleEndian.Uint32(b[:]), true
	}
	name := utf16.Encode([]rune("EncryptedPackage"))
	want := make([]byte, 2*len(name))
	for i, c := range name {
		binary.LittleEndian.PutUint16(want[2*i:], c)
	}
	sector := make([]byte, sectorSize)
	s := binary.LittleEndian.Uint32(hdr[0x30:])
	for range maxCFBDirSectors {
		off := (int64(s) + 1) * sectorSize
		if s >= 0xFFFFFFFA || off+sectorSize > size {
			return false
		}
		if _, err := r.ReadAt(sector, off); err != nil {
			return false
		}
		for e := 0; e+128 <= len(sector); e += 128 {
			n := int(binary.LittleEndian.Uint16(sector[e+64:])) // name length in bytes, with its NUL
			if n == len(want)+2 && bytes.Equal(sector[e:e+len(want)], want) {
				return true
			}
		}
		var ok bool
		if s, ok = next(s); !ok {
			return false
		}
	}
	return false
}

// cfbFailure is the failure of an OOXML extractor given a compound file:
// encrypted (a password-protected .docx, .xlsx or .pptx) or a legacy
// binary Office file wearing a new name.
func cfbFailure(data []byte, kind string) error {
	if cfbEncrypted(bytes.NewReader(data), int64(len(data))) {
		return fail(CodeEncrypted, "the %s is password-protected (encrypted); ragd cannot open it: save a copy without the password (File > Info > Protect > Encrypt with password, cleared) and upload that", kind)
	}
	return fail(CodeUnsupportedType, "the file is a legacy binary Office file (.doc, .xls or .ppt), which ragd does not read; save it as .docx, .xlsx or .pptx and upload that")
}
