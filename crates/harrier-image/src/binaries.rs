//! Packages compiled into binaries: Go's build info (the `\xff Go buildinf:` header, Go 1.18+
//! inline format: toolchain version, main module and dependencies) and Rust's cargo-auditable
//! (`.dep-v0` ELF section: zlib-compressed JSON of the crates). Everything is bounds-checked:
//! a binary is hostile input like any other file.

use std::io::Read;

/// A package found in a binary: (name, version, kind: `go` or `cargo`).
pub type BinPackage = (String, String, &'static str);

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Largest decompressed cargo-auditable document.
const MAX_AUDIT_JSON: u64 = 8 << 20;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn go_string(b: &[u8]) -> Option<(&str, usize)> {
    let (n, used) = uvarint(b)?;
    let end = used.checked_add(usize::try_from(n).ok()?)?;
    let s = std::str::from_utf8(b.get(used..end)?).ok()?;
    Some((s, end))
}

/// Go build info: the toolchain (as package `stdlib`) and every module.
pub fn go_buildinfo(bin: &[u8]) -> Option<Vec<BinPackage>> {
    let at = find(bin, GO_MAGIC)?;
    let hdr = bin.get(at..at.checked_add(32)?)?;
    let flags = hdr[15];
    if flags & 0x2 == 0 {
        // Before Go 1.18 the strings are behind pointers into the data segment: not read.
        return Some(Vec::new());
    }
    let rest = &bin[at + 32..];
    let (version, used) = go_string(rest)?;
    let (modinfo, _) = go_string(&rest[used..])?;
    let mut out = Vec::new();
    if let Some(v) = version.strip_prefix("go") {
        out.push(("stdlib".to_string(), v.to_string(), "go"));
    }
    // The module text sits between two 16-byte sentinels.
    let text = if modinfo.len() >= 33 {
        modinfo.get(16..modinfo.len() - 16).unwrap_or(modinfo)
    } else {
        modinfo
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", path, ver, ..] | ["dep", path, ver, ..] if *ver != "(devel)" => {
                out.push((path.to_string(), ver.to_string(), "go"));
            }
            ["=>", path, ver, ..] => {
                // A replacement: it is what was compiled in, instead of the previous module.
                if let Some(last) = out.last_mut() {
                    *last = (path.to_string(), ver.to_string(), "go");
                }
            }
            _ => {}
        }
    }
    Some(out)
}

fn u16le(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32le(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64le(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(o..o.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The contents of the ELF64 little-endian section named `name`.
fn elf_section<'a>(bin: &'a [u8], name: &str) -> Option<&'a [u8]> {
    if !bin.starts_with(b"\x7fELF") || bin.get(4) != Some(&2) || bin.get(5) != Some(&1) {
        return None;
    }
    let shoff = usize::try_from(u64le(bin, 0x28)?).ok()?;
    let shentsize = usize::from(u16le(bin, 0x3a)?);
    let shnum = usize::from(u16le(bin, 0x3c)?);
    let shstrndx = usize::from(u16le(bin, 0x3e)?);
    if shentsize < 64 || shnum > 4096 {
        return None;
    }
    let sh = |i: usize| -> Option<(u32, usize, usize)> {
        let o = shoff.checked_add(i.checked_mul(shentsize)?)?;
        Some((
            u32le(bin, o)?,
            usize::try_from(u64le(bin, o + 0x18)?).ok()?,
            usize::try_from(u64le(bin, o + 0x20)?).ok()?,
        ))
    };
    let (_, stroff, strsize) = sh(shstrndx)?;
    let strtab = bin.get(stroff..stroff.checked_add(strsize)?)?;
    for i in 0..shnum {
        let (nameoff, off, size) = sh(i)?;
        let n = strtab.get(nameoff as usize..)?;
        let n = &n[..n.iter().position(|c| *c == 0)?];
        if n == name.as_bytes() {
            return bin.get(off..off.checked_add(size)?);
        }
    }
    None
}

/// Crates recorded by cargo-auditable in a Rust ELF binary.
pub fn cargo_auditable(bin: &[u8]) -> Option<Vec<BinPackage>> {
    let sec = elf_section(bin, ".dep-v0")?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(sec)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    Some(
        v["packages"]
            .as_array()?
            .iter()
            .filter(|p| p["source"] == "crates.io" || p["source"].is_null())
            .filter(|p| p["kind"] != "build")
            .filter_map(|p| {
                Some((
                    p["name"].as_str()?.to_string(),
                    p["version"].as_str()?.to_string(),
                    "cargo",
                ))
            })
            .collect(),
    )
}

/// Whatever packages a binary records.
pub fn packages(bin: &[u8]) -> Vec<BinPackage> {
    if !bin.starts_with(b"\x7fELF") {
        return Vec::new();
    }
    let mut out = go_buildinfo(bin).unwrap_or_default();
    out.extend(cargo_auditable(bin).unwrap_or_default());
    out
}

/// Test helpers: binaries built by hand, in the formats the toolchains write.
#[doc(hidden)]
pub mod fake {
    use std::io::Write;

    fn varstr(out: &mut Vec<u8>, s: &str) {
        let mut n = s.len() as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(s.as_bytes());
    }

    /// An ELF-looking blob with Go 1.18+ build info for `version` and `modinfo` lines.
    pub fn go_binary(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = b"\x7fELF\x02\x01\x01".to_vec();
        b.resize(4096, 0);
        let mut hdr = super::GO_MAGIC.to_vec();
        hdr.push(8); // pointer size
        hdr.push(0x2); // inline strings
        hdr.resize(32, 0);
        b.extend_from_slice(&hdr);
        varstr(&mut b, version);
        let sentinel = [0x30u8; 16];
        let mut m = String::from_utf8(sentinel.to_vec()).unwrap();
        m.push_str(modinfo);
        m.push_str(std::str::from_utf8(&sentinel).unwrap());
        varstr(&mut b, &m);
        b.resize(b.len() + 1024, 0);
        b
    }

    /// A minimal ELF64 with a `.dep-v0` section holding `json`, zlib-compressed.
    pub fn rust_binary(json: &str) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json.as_bytes()).unwrap();
        let dep = z.finish().unwrap();
        let strtab = b"\0.shstrtab\0.dep-v0\0".to_vec();
        let mut b = vec![0u8; 64];
        b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        let dep_off = b.len();
        b.extend_from_slice(&dep);
        let str_off = b.len();
        b.extend_from_slice(&strtab);
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
        let shoff = b.len();
        // Section 0: null; 1: .shstrtab; 2: .dep-v0.
        let mut sh = |name: u32, off: usize, size: usize| {
            let mut e = vec![0u8; 64];
            e[0..4].copy_from_slice(&name.to_le_bytes());
            e[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            e[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            b.extend_from_slice(&e);
        };
        sh(0, 0, 0);
        sh(1, str_off, strtab.len());
        sh(11, dep_off, dep.len());
        b[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        b[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_build_info_with_replacements() {
        let bin = fake::go_binary(
            "go1.21.4",
            "path\texample.com/tool\nmod\texample.com/tool\t(devel)\t\ndep\tgolang.org/x/net\tv0.7.0\th1:abc=\ndep\tgithub.com/old/x\tv1.0.0\th1:x=\n=>\tgithub.com/fork/x\tv1.0.1\th1:y=\n",
        );
        let p = packages(&bin);
        assert_eq!(
            p,
            [
                ("stdlib".into(), "1.21.4".into(), "go"),
                ("golang.org/x/net".into(), "v0.7.0".into(), "go"),
                ("github.com/fork/x".into(), "v1.0.1".into(), "go"),
            ]
        );
    }

    #[test]
    fn cargo_auditable_section() {
        let bin = fake::rust_binary(
            r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","kind":"runtime"},{"name":"smallvec","version":"0.6.9","source":"crates.io","kind":"runtime"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#,
        );
        assert_eq!(
            packages(&bin),
            [("smallvec".into(), "0.6.9".into(), "cargo")]
        );
    }

    #[test]
    fn hostile_or_plain_binaries_give_nothing() {
        assert!(packages(b"\x7fELF\x02\x01garbage").is_empty());
        let mut bad = fake::rust_binary("{}");
        bad[0x3c] = 0xff; // absurd section count
        bad[0x3d] = 0xff;
        assert!(packages(&bad).is_empty());
        let mut cut = fake::go_binary("go1.22.0", "dep\ta\tv1.0.0\n");
        let at = cut.len() - 1024 - 10;
        cut.truncate(at);
        assert!(go_buildinfo(&cut).unwrap_or_default().len() <= 1);
        assert!(packages(b"#!/bin/sh\necho hi\n").is_empty());
    }
}
