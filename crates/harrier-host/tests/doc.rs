//! docs/host-bench.md lists every check as the code defines it
//! (`HARRIER_BLESS=1 cargo test -p harrier-host --test doc` rewrites the table).

use std::path::PathBuf;

const BEGIN: &str = "<!-- BEGIN GENERATED HOST CHECKS -->\n";
const END: &str = "<!-- END GENERATED HOST CHECKS -->";

fn table() -> String {
    let mut s =
        String::from("| check | profile | CIS | severity | title |\n|---|---|---|---|---|\n");
    for c in harrier_host::checks::ALL {
        let k = &c.check;
        let cis: Vec<String> = k
            .frameworks
            .iter()
            .filter(|(fw, _)| fw.starts_with("cis-"))
            .map(|(fw, ids)| format!("{fw} {}", ids.join(", ")))
            .collect();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.id,
            c.profile.as_str(),
            if cis.is_empty() {
                "—".to_string()
            } else {
                cis.join("; ")
            },
            k.severity,
            k.title.replace('|', "\\|")
        ));
    }
    s
}

#[test]
fn the_doc_lists_every_check() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/host-bench.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (a, rest) = doc.split_once(BEGIN).expect("begin marker");
    let (_, b) = rest.split_once(END).expect("end marker");
    let want = format!("{a}{BEGIN}{}{END}{b}", table());
    if want != doc {
        if std::env::var_os("HARRIER_BLESS").is_some() {
            std::fs::write(&path, want).unwrap();
        } else {
            panic!("docs/host-bench.md is out of date: run HARRIER_BLESS=1 cargo test -p harrier-host --test doc");
        }
    }
}
