//! Kernel modules for the initramfs and the order to load them in. Debian's
//! kernel package ships no `modules.dep` (depmod writes it at install time),
//! so dependencies come from each module's own `.modinfo` `depends=` field,
//! which is what depmod reads too.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::GuestError;
use crate::elf::Elf;
use crate::kernel::unxz;

/// A module ready for busybox `insmod`: its name and uncompressed bytes.
pub struct Module {
    pub name: String,
    pub data: Vec<u8>,
}

/// Module names compare with `-` and `_` as the same character, as the kernel does.
fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// Indexes every `.ko` / `.ko.xz` under `dir` by canonical module name.
pub fn index(dir: &Path) -> Result<BTreeMap<String, PathBuf>, GuestError> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| GuestError::io(&dir, e))? {
            let path = entry.map_err(|e| GuestError::io(&dir, e))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(file) = path.file_name().and_then(|f| f.to_str())
                && let Some(name) = file
                    .strip_suffix(".ko")
                    .or_else(|| file.strip_suffix(".ko.xz"))
            {
                found.insert(canonical(name), path);
            }
        }
    }
    Ok(found)
}

/// The `depends=` list from a module's `.modinfo` section.
pub fn depends(ko: &[u8], what: &str) -> Result<Vec<String>, GuestError> {
    let modinfo = Elf::parse(ko, what)?
        .section(".modinfo")?
        .ok_or_else(|| GuestError::Format(format!("{what}: no .modinfo section")))?;
    Ok(modinfo
        .split(|&b| b == 0)
        .filter_map(|field| field.strip_prefix(b"depends="))
        .flat_map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .map(canonical)
                .collect::<Vec<_>>()
        })
        .filter(|name| !name.is_empty())
        .collect())
}

/// Orders `wanted` and everything they depend on so that each module comes
/// after its dependencies. `deps_of` gives a module's direct dependencies.
pub fn load_order(
    wanted: &[String],
    mut deps_of: impl FnMut(&str) -> Result<Vec<String>, GuestError>,
) -> Result<Vec<String>, GuestError> {
    let mut order = Vec::new();
    let mut done = HashSet::new();
    for name in wanted {
        visit(
            &canonical(name),
            &mut deps_of,
            &mut done,
            &mut Vec::new(),
            &mut order,
        )?;
    }
    Ok(order)
}

fn visit(
    name: &str,
    deps_of: &mut impl FnMut(&str) -> Result<Vec<String>, GuestError>,
    done: &mut HashSet<String>,
    path: &mut Vec<String>,
    order: &mut Vec<String>,
) -> Result<(), GuestError> {
    if done.contains(name) {
        return Ok(());
    }
    if path.iter().any(|p| p == name) {
        return Err(GuestError::Format(format!(
            "module dependency cycle: {} -> {name}",
            path.join(" -> ")
        )));
    }
    path.push(name.to_owned());
    for dep in deps_of(name)? {
        visit(&dep, deps_of, done, path, order)?;
    }
    path.pop();
    done.insert(name.to_owned());
    order.push(name.to_owned());
    Ok(())
}

/// Reads `wanted` and their dependencies from the kernel's module tree,
/// uncompressed, in load order.
pub fn collect(module_dir: &Path, wanted: &[String]) -> Result<Vec<Module>, GuestError> {
    let index = index(module_dir)?;
    let mut bytes: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let order = load_order(wanted, |name| {
        let path = index.get(name).ok_or_else(|| {
            GuestError::Format(format!(
                "kernel module {name} not found under {}",
                module_dir.display()
            ))
        })?;
        let raw = std::fs::read(path).map_err(|e| GuestError::io(path, e))?;
        let what = path.display().to_string();
        let data = if what.ends_with(".xz") {
            unxz(&raw, &what)?
        } else {
            raw
        };
        let deps = depends(&data, &what)?;
        bytes.insert(name.to_owned(), data);
        Ok(deps)
    })?;
    Ok(order
        .into_iter()
        .map(|name| {
            let data = bytes.remove(&name).expect("read while ordering");
            Module { name, data }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> impl FnMut(&str) -> Result<Vec<String>, GuestError> {
        let map: BTreeMap<String, Vec<String>> = edges
            .iter()
            .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
            .collect();
        move |name| {
            map.get(name)
                .cloned()
                .ok_or_else(|| GuestError::Format(format!("unknown module {name}")))
        }
    }

    // The real graph of Debian 12's virtio modules (from their .modinfo).
    const VIRTIO: &[(&str, &[&str])] = &[
        ("virtio_net", &["virtio_ring", "virtio", "net_failover"]),
        ("net_failover", &["failover"]),
        ("failover", &[]),
        ("virtio_blk", &["virtio", "virtio_ring"]),
        ("virtio_ring", &["virtio"]),
        ("virtio", &[]),
        ("virtio_mmio", &["virtio", "virtio_ring"]),
    ];

    #[test]
    fn dependencies_come_before_their_users_and_once() {
        let wanted = ["virtio-mmio", "virtio_net", "virtio_blk"].map(String::from);
        let order = load_order(&wanted, graph(VIRTIO)).unwrap();
        assert_eq!(
            order,
            [
                "virtio",
                "virtio_ring",
                "virtio_mmio",
                "failover",
                "net_failover",
                "virtio_net",
                "virtio_blk"
            ]
        );
    }

    #[test]
    fn a_missing_module_or_a_cycle_is_an_error() {
        let err =
            load_order(&["virtio_net".into()], graph(&[("virtio_net", &["nope"])])).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = load_order(&["a".into()], graph(&[("a", &["b"]), ("b", &["a"])])).unwrap_err();
        assert!(err.to_string().contains("cycle: a -> b -> a"), "{err}");
    }

    #[test]
    fn reads_depends_from_modinfo_of_a_plain_and_an_xz_module() {
        // A tiny relocatable ELF with a .modinfo section, as `ld -r` would leave it.
        let modinfo = b"license=GPL\0depends=virtio,virtio-ring\0name=virtio_net\0";
        let ko = elf_with_section(".modinfo", modinfo);
        assert_eq!(
            depends(&ko, "virtio_net.ko").unwrap(),
            ["virtio", "virtio_ring"]
        );
        let none = elf_with_section(".modinfo", b"depends=\0name=failover\0");
        assert!(depends(&none, "failover.ko").unwrap().is_empty());

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kernel/drivers/net")).unwrap();
        std::fs::write(dir.path().join("kernel/drivers/net/virtio_net.ko"), &ko).unwrap();
        let xz = crate::kernel::tests::xz_like_kernel(&elf_with_section(".modinfo", b"depends=\0"));
        std::fs::write(dir.path().join("kernel/drivers/net/virtio.ko.xz"), xz).unwrap();
        std::fs::write(
            dir.path().join("kernel/drivers/net/virtio_ring.ko"),
            elf_with_section(".modinfo", b"depends=virtio\0"),
        )
        .unwrap();
        let modules = collect(dir.path(), &["virtio_net".into()]).unwrap();
        let names: Vec<_> = modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["virtio", "virtio_ring", "virtio_net"]);
        assert!(
            modules[0].data.starts_with(b"\x7fELF"),
            "the .ko.xz is stored uncompressed"
        );
    }

    fn elf_with_section(name: &str, contents: &[u8]) -> Vec<u8> {
        // Layout: header, contents, shstrtab, then 3 section headers (null, ours, shstrtab).
        let shstrtab = format!("\0{name}\0.shstrtab\0");
        let contents_at = 64u64;
        let strtab_at = contents_at + contents.len() as u64;
        let shoff = (strtab_at + shstrtab.len() as u64).next_multiple_of(8);
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&2u16.to_le_bytes());
        elf.extend(contents);
        elf.extend(shstrtab.as_bytes());
        elf.resize(shoff as usize, 0);
        let section = |name_off: u32, offset: u64, size: u64| {
            let mut sh = vec![0u8; 64];
            sh[..4].copy_from_slice(&name_off.to_le_bytes());
            sh[0x18..0x20].copy_from_slice(&offset.to_le_bytes());
            sh[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            sh
        };
        elf.extend(section(0, 0, 0));
        elf.extend(section(1, contents_at, contents.len() as u64));
        elf.extend(section(
            name.len() as u32 + 2,
            strtab_at,
            shstrtab.len() as u64,
        ));
        elf
    }
}
