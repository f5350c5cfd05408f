//! Just enough of 64-bit little-endian ELF to build the guest: the PVH entry
//! note of a kernel, a module's `.modinfo` section, and a program's
//! interpreter and `DT_NEEDED` libraries.

use crate::GuestError;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
/// `XEN_ELFNOTE_PHYS32_ENTRY`: the 32-bit entry point QEMU uses to boot a
/// `vmlinux` directly (PVH), without the bzImage's real-mode setup.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

pub struct Elf<'a> {
    data: &'a [u8],
    what: String,
}

struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

impl<'a> Elf<'a> {
    /// Checks the identification bytes; `what` names the file in errors.
    pub fn parse(data: &'a [u8], what: &str) -> Result<Self, GuestError> {
        let elf = Elf {
            data,
            what: what.to_owned(),
        };
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            return Err(elf.bad("not an ELF file"));
        }
        if data[4] != 2 || data[5] != 1 {
            return Err(elf.bad("not a 64-bit little-endian ELF file"));
        }
        Ok(elf)
    }

    fn bad(&self, why: &str) -> GuestError {
        GuestError::Format(format!("{}: {why}", self.what))
    }

    fn bytes(&self, offset: u64, len: u64) -> Result<&'a [u8], GuestError> {
        let start = usize::try_from(offset).map_err(|_| self.bad("offset out of range"))?;
        let len = usize::try_from(len).map_err(|_| self.bad("length out of range"))?;
        start
            .checked_add(len)
            .and_then(|end| self.data.get(start..end))
            .ok_or_else(|| self.bad("truncated"))
    }

    fn u16(&self, offset: u64) -> Result<u16, GuestError> {
        Ok(u16::from_le_bytes(
            self.bytes(offset, 2)?.try_into().unwrap(),
        ))
    }

    fn u32(&self, offset: u64) -> Result<u32, GuestError> {
        Ok(u32::from_le_bytes(
            self.bytes(offset, 4)?.try_into().unwrap(),
        ))
    }

    fn u64(&self, offset: u64) -> Result<u64, GuestError> {
        Ok(u64::from_le_bytes(
            self.bytes(offset, 8)?.try_into().unwrap(),
        ))
    }

    fn segments(&self) -> Result<Vec<Segment>, GuestError> {
        let phoff = self.u64(0x20)?;
        let phentsize = u64::from(self.u16(0x36)?);
        let phnum = u64::from(self.u16(0x38)?);
        (0..phnum)
            .map(|i| {
                let at = phoff + i * phentsize;
                Ok(Segment {
                    kind: self.u32(at)?,
                    offset: self.u64(at + 8)?,
                    vaddr: self.u64(at + 16)?,
                    filesz: self.u64(at + 32)?,
                })
            })
            .collect()
    }

    /// True when a `PT_NOTE` segment carries Xen's PHYS32_ENTRY note, which
    /// is what lets QEMU (`-M microvm`) boot this kernel without a decompressor.
    pub fn has_pvh_entry(&self) -> Result<bool, GuestError> {
        for seg in self.segments()?.iter().filter(|s| s.kind == PT_NOTE) {
            let notes = self.bytes(seg.offset, seg.filesz)?;
            let mut at = 0usize;
            while at + 12 <= notes.len() {
                let word = |i: usize| u32::from_le_bytes(notes[i..i + 4].try_into().unwrap());
                let (namesz, descsz, kind) =
                    (word(at) as usize, word(at + 4) as usize, word(at + 8));
                let name_at = at + 12;
                let desc_at = name_at + namesz.next_multiple_of(4);
                let name = notes.get(name_at..name_at + namesz).unwrap_or_default();
                if name == b"Xen\0" && kind == XEN_ELFNOTE_PHYS32_ENTRY {
                    return Ok(true);
                }
                at = desc_at + descsz.next_multiple_of(4);
            }
        }
        Ok(false)
    }

    /// The contents of the section called `name`, if there is one.
    pub fn section(&self, name: &str) -> Result<Option<&'a [u8]>, GuestError> {
        let shoff = self.u64(0x28)?;
        let shentsize = u64::from(self.u16(0x3a)?);
        let shnum = u64::from(self.u16(0x3c)?);
        let shstrndx = u64::from(self.u16(0x3e)?);
        let header = |i: u64| shoff + i * shentsize;
        let names_at = self.u64(header(shstrndx) + 0x18)?;
        for i in 0..shnum {
            let name_off = u64::from(self.u32(header(i))?);
            if self.cstr(names_at + name_off)? == name.as_bytes() {
                let offset = self.u64(header(i) + 0x18)?;
                let size = self.u64(header(i) + 0x20)?;
                return Ok(Some(self.bytes(offset, size)?));
            }
        }
        Ok(None)
    }

    fn cstr(&self, offset: u64) -> Result<&'a [u8], GuestError> {
        let start = usize::try_from(offset).map_err(|_| self.bad("offset out of range"))?;
        let rest = self
            .data
            .get(start..)
            .ok_or_else(|| self.bad("truncated"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.bad("unterminated string"))?;
        Ok(&rest[..end])
    }

    /// The program interpreter (`PT_INTERP`), for a dynamically linked program.
    pub fn interpreter(&self) -> Result<Option<String>, GuestError> {
        match self.segments()?.iter().find(|s| s.kind == PT_INTERP) {
            Some(seg) => Ok(Some(self.string(self.cstr(seg.offset)?)?)),
            None => Ok(None),
        }
    }

    /// The `DT_NEEDED` sonames of a dynamically linked program or library.
    pub fn needed(&self) -> Result<Vec<String>, GuestError> {
        let segments = self.segments()?;
        let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) else {
            return Ok(Vec::new());
        };
        let mut strtab_vaddr = None;
        let mut needed_offsets = Vec::new();
        let mut at = dynamic.offset;
        while at + 16 <= dynamic.offset + dynamic.filesz {
            let (tag, value) = (self.u64(at)?, self.u64(at + 8)?);
            match tag {
                DT_NULL => break,
                DT_NEEDED => needed_offsets.push(value),
                DT_STRTAB => strtab_vaddr = Some(value),
                _ => {}
            }
            at += 16;
        }
        if needed_offsets.is_empty() {
            return Ok(Vec::new());
        }
        let vaddr = strtab_vaddr.ok_or_else(|| self.bad("DT_NEEDED without DT_STRTAB"))?;
        // DT_STRTAB is an address; the loadable segment that holds it maps it to the file.
        let strtab = segments
            .iter()
            .find(|s| s.kind == PT_LOAD && s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz)
            .map(|s| vaddr - s.vaddr + s.offset)
            .ok_or_else(|| self.bad("DT_STRTAB outside every loaded segment"))?;
        needed_offsets
            .into_iter()
            .map(|off| self.string(self.cstr(strtab + off)?))
            .collect()
    }

    fn string(&self, bytes: &[u8]) -> Result<String, GuestError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| self.bad("name is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_elf() {
        assert!(
            Elf::parse(
                b"MZ not an elf at all, just some bytes of padding here....................",
                "x"
            )
            .is_err()
        );
        assert!(Elf::parse(b"\x7fELF", "short").is_err());
    }

    #[test]
    fn reads_the_interpreter_and_libraries_of_a_real_program() {
        // The test binary itself is a dynamically linked ELF built by this toolchain.
        let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let elf = Elf::parse(&data, "test binary").unwrap();
        let interp = elf.interpreter().unwrap().expect("dynamically linked");
        assert!(interp.contains("ld-linux"), "{interp}");
        let needed = elf.needed().unwrap();
        assert!(
            needed.iter().any(|n| n.starts_with("libc.so")),
            "{needed:?}"
        );
        assert!(elf.section(".text").unwrap().is_some());
        assert!(elf.section(".no-such-section").unwrap().is_none());
        assert!(!elf.has_pvh_entry().unwrap());
    }
}
