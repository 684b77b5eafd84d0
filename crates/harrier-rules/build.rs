//! Embeds the rule pack under `rules/` (every `.yaml` rule file and `.json` test file, sorted)
//! into the crate: [`builtin`](src/builtin.rs) exposes it. Embedding is not I/O at run time.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push(p);
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let rules = root.join("rules");
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files = Vec::new();
    collect(&rules, &mut files);
    files.sort();
    let (tests, files): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|f| f.extension().is_some_and(|x| x == "json"));
    let mut code = String::new();
    emit(
        &mut code,
        "DEFAULT_RULES",
        "The built-in rule pack",
        &root,
        &files,
    );
    emit(
        &mut code,
        "DEFAULT_RULE_TESTS",
        "The built-in rule pack's tests",
        &root,
        &tests,
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("default_rules.rs");
    std::fs::write(out, code).expect("write default_rules.rs");
}

fn emit(code: &mut String, name: &str, doc: &str, root: &Path, files: &[PathBuf]) {
    code.push_str(&format!(
        "/// {doc}: (path under the repository, text).\npub static {name}: &[(&str, &str)] = &[\n"
    ));
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
        code.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
    }
    code.push_str("];\n");
}
