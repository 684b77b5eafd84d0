//! Compiles the BPF programs (src/bpf/*.bpf.c) with clang and generates their Rust skeleton.
//! vmlinux.h is kept in the repository (CO-RE), so neither bpftool nor the build machine's BTF
//! is needed.

use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let src = manifest.join("src/bpf/sensor.bpf.c");
    let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok("aarch64") => "arm64",
        Ok(other) => panic!("harrier-sensor: no BPF target for architecture {other}"),
        Err(_) => "x86",
    };
    SkeletonBuilder::new()
        .source(&src)
        .clang_args([
            "-I".into(),
            manifest.join("src/bpf").into_os_string(),
            format!("-D__TARGET_ARCH_{arch}").into(),
            "-O2".into(),
            "-g".into(),
        ])
        .build_and_generate(out.join("sensor.skel.rs"))
        .unwrap_or_else(|e| panic!("building {}: {e:#}", src.display()));
    println!("cargo:rerun-if-changed={}", src.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("src/bpf/vmlinux.h").display()
    );
}
