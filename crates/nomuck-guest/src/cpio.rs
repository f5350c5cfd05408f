//! A writer for the "newc" cpio format, the only one the kernel unpacks as an
//! initramfs. Entries carry fixed owners (root) and times (0) so the same
//! inputs always give the same bytes.

use std::io::{self, Write};

const MAGIC: &str = "070701";

pub struct CpioWriter<W: Write> {
    out: W,
    written: u64,
    next_inode: u32,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            written: 0,
            next_inode: 1,
        }
    }

    /// A directory; parents must come first (the kernel does not create them).
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.entry(path, 0o040000 | perm, (0, 0), &[])
    }

    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, 0o100000 | perm, (0, 0), data)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, 0o120777, (0, 0), target.as_bytes())
    }

    /// A character device node, e.g. `/dev/console` (5, 1), which init needs
    /// before devtmpfs is mounted.
    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(path, 0o020000 | perm, (major, minor), &[])
    }

    fn entry(&mut self, path: &str, mode: u32, rdev: (u32, u32), data: &[u8]) -> io::Result<()> {
        let name = path.trim_start_matches('/');
        if name.is_empty() || name == "TRAILER!!!" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad cpio path {path:?}"),
            ));
        }
        let size = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{path} is over 4 GiB"))
        })?;
        let inode = self.next_inode;
        self.next_inode += 1;
        self.header(inode, mode, rdev, name, size)?;
        self.write_padded(data)
    }

    fn header(
        &mut self,
        inode: u32,
        mode: u32,
        rdev: (u32, u32),
        name: &str,
        size: u32,
    ) -> io::Result<()> {
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        let fields = [
            inode,
            mode,
            0,
            0,
            nlink,
            0,
            size,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        let mut header = String::with_capacity(110 + name.len() + 1);
        header.push_str(MAGIC);
        for field in fields {
            header.push_str(&format!("{field:08X}"));
        }
        header.push_str(name);
        header.push('\0');
        self.write_padded(header.as_bytes())
    }

    /// Writes `bytes` then pads to a 4-byte boundary, as newc wants after
    /// both the header+name and the data.
    fn write_padded(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        let pad = (4 - self.written % 4) % 4;
        self.out.write_all(&[0u8; 3][..pad as usize])?;
        self.written += pad;
        Ok(())
    }

    /// Writes the trailer entry and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.header(0, 0, (0, 0), "TRAILER!!!", 0)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One parsed entry: (name, mode, rdev, data).
    pub type Entry = (String, u32, (u32, u32), Vec<u8>);

    /// An independent newc reader, strict about magic, padding and trailer.
    pub fn read_newc(mut buf: &[u8]) -> Vec<Entry> {
        let total = buf.len();
        let mut entries = Vec::new();
        loop {
            let at = total - buf.len();
            assert_eq!(at % 4, 0, "entry not 4-byte aligned");
            assert_eq!(&buf[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&buf[6 + 8 * i..14 + 8 * i]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, size, rdev) = (field(1), field(6) as usize, (field(9), field(10)));
            let namesize = field(11) as usize;
            let name_end = 110 + namesize;
            assert_eq!(buf[name_end - 1], 0, "name not NUL-terminated");
            let name = String::from_utf8(buf[110..name_end - 1].to_vec()).unwrap();
            let data_at = (at + name_end).next_multiple_of(4) - at;
            let data = buf[data_at..data_at + size].to_vec();
            let next = (at + data_at + size).next_multiple_of(4) - at;
            buf = &buf[next..];
            if name == "TRAILER!!!" {
                assert!(buf.is_empty(), "bytes after the trailer");
                return entries;
            }
            entries.push((name, mode, rdev, data));
        }
    }

    #[test]
    fn writes_each_kind_of_entry() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("/dev", 0o755).unwrap();
        w.char_device("/dev/console", 0o600, 5, 1).unwrap();
        w.symlink("/init", "/bin/busybox").unwrap();
        w.file("/etc/hostname", 0o644, b"nomuck\n").unwrap();
        let out = w.finish().unwrap();
        let entries = read_newc(&out);
        assert_eq!(
            entries,
            vec![
                ("dev".into(), 0o040755, (0, 0), vec![]),
                ("dev/console".into(), 0o020600, (5, 1), vec![]),
                ("init".into(), 0o120777, (0, 0), b"/bin/busybox".to_vec()),
                (
                    "etc/hostname".into(),
                    0o100644,
                    (0, 0),
                    b"nomuck\n".to_vec()
                ),
            ]
        );
    }

    #[test]
    fn refuses_empty_and_trailer_names() {
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.file("/", 0o644, b"").is_err());
        assert!(w.file("TRAILER!!!", 0o644, b"").is_err());
    }

    proptest! {
        #[test]
        fn any_files_read_back_unchanged(files in proptest::collection::vec(
            ("[a-z0-9_.-]{1,40}(/[a-z0-9_.-]{1,20}){0,3}", proptest::collection::vec(any::<u8>(), 0..300)),
            0..12,
        )) {
            let mut w = CpioWriter::new(Vec::new());
            for (name, data) in &files {
                w.file(name, 0o644, data).unwrap();
            }
            let out = w.finish().unwrap();
            prop_assert_eq!(out.len() % 4, 0);
            let back: Vec<(String, Vec<u8>)> = read_newc(&out).into_iter().map(|(n, _, _, d)| (n, d)).collect();
            prop_assert_eq!(back, files);
        }
    }
}
