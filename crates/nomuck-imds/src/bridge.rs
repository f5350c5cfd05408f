//! The per-connection bridge QEMU runs for the guest's metadata connections.
//!
//! QEMU's `guestfwd=tcp:169.254.169.254:80-cmd:CMD` starts CMD for every connection the
//! guest opens to the metadata address, with that connection as the command's stdin,
//! stdout *and stderr* (libslirp hands the child one end of a socketpair for all
//! three). The bridge copies bytes between stdio and the instance's metadata socket,
//! which is how the service knows the instance: by the socket, not by any address the
//! guest could choose. It never writes anything of its own to stdout or stderr, since
//! both are the guest's TCP stream.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

const BUF: usize = 16 * 1024;

/// Copies stdin to the socket at `socket_path` and the socket to stdout.
///
/// When stdin ends (the guest half-closed), the socket's write side is shut down and
/// the reply still flows back. When the socket ends (the service answered and
/// closed), this returns at once: the caller must then exit, which closes the stdio
/// socket and so the guest's connection, even while another read of stdin is still
/// blocked in a thread. Fails when the socket cannot be reached (nomuck not running,
/// instance gone): the caller exits and the guest sees its connection close.
pub fn bridge_stdio(socket_path: &Path) -> io::Result<()> {
    let socket = UnixStream::connect(socket_path)?;
    let to_socket = socket.try_clone()?;
    // Detached: a blocked read of stdin cannot be cancelled, and need not be; see above.
    std::thread::spawn(move || {
        let mut to_socket = to_socket;
        // Errors here mean the service closed first; the other direction reports that.
        let _ = copy(&mut io::stdin().lock(), &mut to_socket);
        let _ = to_socket.shutdown(Shutdown::Write);
    });
    let mut from_socket = socket;
    copy(&mut from_socket, &mut io::stdout().lock())?;
    Ok(())
}

/// Copies until EOF, flushing each chunk: a reply must not wait in a buffer.
fn copy(from: &mut impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return to.flush(),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}
