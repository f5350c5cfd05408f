//! `parse_message` on arbitrary bytes: what a misbehaving (or compromised) QEMU
//! could write to its QMP socket. It must answer a message or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nomuck_qemu::qmp::parse_message(data);
});
