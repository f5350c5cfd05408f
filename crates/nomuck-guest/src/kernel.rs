//! The uncompressed kernel. Debian's bzImage is real-mode setup code plus a
//! decompressor plus the kernel ELF as an xz stream (x86 BCJ filter, CRC32
//! check). QEMU boots that ELF directly through its PVH note, skipping the
//! decompressor: ~3.4 s to userspace under TCG instead of 8-10 s.

use std::io::Read;

use crate::GuestError;
use crate::elf::Elf;

const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";

/// Decompresses the first xz stream in `bzimage` and checks that it is an ELF
/// with a PVH entry note.
pub fn extract_vmlinux(bzimage: &[u8]) -> Result<Vec<u8>, GuestError> {
    let start = bzimage
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .ok_or_else(|| GuestError::Format("kernel image: no xz stream inside".into()))?;
    let mut vmlinux = Vec::new();
    // One stream only: the bzImage goes on after it (size word, setup data).
    lzma_rust2::XzReader::new(&bzimage[start..], false)
        .read_to_end(&mut vmlinux)
        .map_err(|e| GuestError::Format(format!("kernel image: xz stream at byte {start}: {e}")))?;
    let elf = Elf::parse(&vmlinux, "decompressed kernel")?;
    if !elf.has_pvh_entry()? {
        return Err(GuestError::Format(
            "decompressed kernel has no PVH entry note (CONFIG_PVH is off?)".into(),
        ));
    }
    Ok(vmlinux)
}

/// xz-compressed files (modules as `.ko.xz` in newer Debian kernels).
pub fn unxz(data: &[u8], what: &str) -> Result<Vec<u8>, GuestError> {
    let mut out = Vec::new();
    lzma_rust2::XzReader::new(data, true)
        .read_to_end(&mut out)
        .map_err(|e| GuestError::Format(format!("{what}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lzma_rust2::{CheckType, FilterType, XzOptions, XzWriter};
    use std::io::Write;

    /// Compresses as the kernel's build does: x86 BCJ then LZMA2, CRC32 check.
    pub fn xz_like_kernel(data: &[u8]) -> Vec<u8> {
        let mut options = XzOptions::with_preset(1);
        options.set_check_sum_type(CheckType::Crc32);
        options.prepend_pre_filter(FilterType::BcjX86, 0);
        let mut w = XzWriter::new(Vec::new(), options).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    /// A minimal ELF64 whose only program header is a PT_NOTE holding the
    /// given note name and type; filled with x86-looking call opcodes so the
    /// BCJ filter really rewrites something.
    fn elf_with_note(name: &[u8], kind: u32) -> Vec<u8> {
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mut note = Vec::new();
        note.extend((name.len() as u32).to_le_bytes());
        note.extend(4u32.to_le_bytes());
        note.extend(kind.to_le_bytes());
        note.extend(name);
        note.resize(note.len().next_multiple_of(4), 0);
        note.extend(0x0100_0000u32.to_le_bytes());
        let mut phdr = vec![0u8; 56];
        phdr[..4].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        phdr[8..16].copy_from_slice(&120u64.to_le_bytes());
        phdr[32..40].copy_from_slice(&(note.len() as u64).to_le_bytes());
        elf.extend(phdr);
        elf.extend(note);
        for i in 0..4096u32 {
            elf.push(0xe8);
            elf.extend(i.to_le_bytes());
        }
        elf
    }

    fn bzimage_around(payload: &[u8]) -> Vec<u8> {
        let mut image = vec![0x55u8; 17_000]; // setup + decompressor stand-in
        image.extend(xz_like_kernel(payload));
        image.extend((payload.len() as u32).to_le_bytes());
        image.extend([0xaa; 333]); // what follows the stream in a bzImage
        image
    }

    #[test]
    fn extracts_the_elf_from_a_bzimage_like_container() {
        let vmlinux = elf_with_note(b"Xen\0", 18);
        assert_eq!(extract_vmlinux(&bzimage_around(&vmlinux)).unwrap(), vmlinux);
    }

    #[test]
    fn refuses_a_kernel_without_pvh_note() {
        let other_note = elf_with_note(b"GNU\0", 3);
        let err = extract_vmlinux(&bzimage_around(&other_note)).unwrap_err();
        assert!(err.to_string().contains("PVH"), "{err}");
    }

    #[test]
    fn refuses_an_image_without_xz_or_with_a_broken_stream() {
        assert!(
            extract_vmlinux(&[0u8; 4096])
                .unwrap_err()
                .to_string()
                .contains("no xz stream")
        );
        let mut image = bzimage_around(&elf_with_note(b"Xen\0", 18));
        let mid = 17_000 + 200;
        image[mid] ^= 0xff;
        assert!(extract_vmlinux(&image).is_err());
    }

    #[test]
    fn unxz_round_trips() {
        let data = b"module bytes".repeat(100);
        assert_eq!(unxz(&xz_like_kernel(&data), "m.ko.xz").unwrap(), data);
        assert!(unxz(b"not xz", "m.ko.xz").is_err());
    }
}
