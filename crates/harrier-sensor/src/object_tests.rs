//! Checks of the committed BPF object (`src/bpf/sensor.bpf.o`): that it was rebuilt after its
//! sources changed, that its record structs have the sizes `raw` decodes, and that the loader's
//! program table names every program in it.

use std::collections::BTreeSet;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol};
use sha2::{Digest, Sha256};

use crate::raw::{EXEC_LEN, FILE_LEN, HDR_LEN, NET_LEN};
use crate::sensor::PROGRAMS;

const OBJECT: &[u8] = include_bytes!("bpf/sensor.bpf.o");

#[test]
fn bpf_object_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate_dir.join("../..");
    let stamp = std::fs::read_to_string(crate_dir.join("src/bpf/sensor.bpf.o.sha256")).unwrap();
    let mut checked = 0;
    for line in stamp.lines() {
        let (want, name) = line.split_once("  ").expect("sha256sum format");
        let path = if name.starts_with("scripts/") {
            repo.join(name)
        } else {
            crate_dir.join("src/bpf").join(name)
        };
        let got = Sha256::digest(std::fs::read(&path).unwrap());
        let got: String = got.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            got,
            want,
            "{} changed since sensor.bpf.o was built: run scripts/build-bpf and commit the object",
            path.display()
        );
        checked += 1;
    }
    assert_eq!(
        checked, 3,
        "the stamp names sensor.bpf.c, vmlinux.h and scripts/build-bpf"
    );
}

/// Reads a little-endian u32 at `off`.
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// The size of every struct named in the object's BTF (`.BTF`: header, type records, strings).
fn btf_struct_sizes(btf: &[u8]) -> Vec<(String, u32)> {
    assert_eq!(&btf[0..2], &0xeb9fu16.to_le_bytes(), "BTF magic");
    let hdr_len = u32_at(btf, 4) as usize;
    let (type_off, type_len) = (u32_at(btf, 8) as usize, u32_at(btf, 12) as usize);
    let str_off = u32_at(btf, 16) as usize;
    let types = &btf[hdr_len + type_off..hdr_len + type_off + type_len];
    let strings = &btf[hdr_len + str_off..];
    let name = |off: u32| {
        let s = &strings[off as usize..];
        String::from_utf8_lossy(&s[..s.iter().position(|&c| c == 0).unwrap()]).into_owned()
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < types.len() {
        let (name_off, info, size) = (
            u32_at(types, at),
            u32_at(types, at + 4),
            u32_at(types, at + 8),
        );
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        at += 12;
        at += match kind {
            1 | 14 | 17 => 4,             // int, var, decl tag
            3 => 12,                      // array
            4 | 5 | 15 | 19 => 12 * vlen, // struct, union, datasec, enum64
            6 | 13 => 8 * vlen,           // enum, function prototype
            _ => 0,                       // pointers, typedefs, qualifiers, functions, ...
        };
        if kind == 4 && name_off != 0 {
            out.push((name(name_off), size));
        }
    }
    out
}

#[test]
fn record_structs_have_the_sizes_raw_decodes() {
    let obj = object::File::parse(OBJECT).unwrap();
    let btf = obj
        .section_by_name(".BTF")
        .expect("the object carries BTF")
        .data()
        .unwrap();
    let sizes = btf_struct_sizes(btf);
    let size = |n: &str| {
        sizes
            .iter()
            .find(|(name, _)| name == n)
            .unwrap_or_else(|| panic!("struct {n} not in the object's BTF"))
            .1 as usize
    };
    assert_eq!(size("hdr"), HDR_LEN);
    // exec_ev is not in the BTF (it is only ever a ring buffer record): sensor.bpf.c checks
    // its size with a static assertion against the same formula.
    assert_eq!(EXEC_LEN, 104 + 256 + 1024 + 2048);
    assert_eq!(size("file_ev"), FILE_LEN);
    assert_eq!(size("net_ev"), NET_LEN);
    // A kernel type the programs read through CO-RE is there too (the walk is not vacuous).
    assert!(size("task_struct") > 1000);
}

#[test]
fn the_loader_table_names_every_program_of_the_object() {
    let obj = object::File::parse(OBJECT).unwrap();
    let mut in_object = BTreeSet::new();
    for sym in obj.symbols() {
        let Some(section) = sym
            .section_index()
            .and_then(|i| obj.section_by_index(i).ok())
        else {
            continue;
        };
        let Ok(sec) = section.name() else { continue };
        if let Some(tp) = sec.strip_prefix("tp/") {
            if sym.kind() == object::SymbolKind::Text {
                in_object.insert((sym.name().unwrap().to_string(), tp.to_string()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = PROGRAMS
        .iter()
        .map(|(f, cat, tp, _)| (f.to_string(), format!("{cat}/{tp}")))
        .collect();
    assert_eq!(in_object.len(), 32);
    assert_eq!(in_object, table);
}
