//! docs/fields.md lists every field of every source, generated from the field tables. This test
//! fails when the page is out of date; `HARRIER_BLESS=1 cargo test -p harrier-events --test
//! fields_doc` rewrites it.

use std::path::PathBuf;

use harrier_events::field::{ArgSpec, Extract};

fn generated_tables() -> String {
    let mut out = String::new();
    for src in harrier_events::sources() {
        out.push_str(&format!(
            "### Source `{}` ({} fields)\n\n",
            src.name,
            src.fields.len()
        ));
        match (src.type_field, src.second_field) {
            (Some(tf), Some((second, path))) => out.push_str(&format!(
                "Rules are indexed by `{tf}`, and rules it does not pin by `{second}` (`{}`).\n\n",
                path.join(".")
            )),
            (Some(tf), None) => out.push_str(&format!("Rules are indexed by `{tf}`.\n\n")),
            _ => {}
        }
        out.push_str("| field | type | read from | description |\n|---|---|---|---|\n");
        for f in src.fields {
            let name = match f.arg {
                ArgSpec::None => format!("`{}`", f.name),
                ArgSpec::OptionalIndex => format!("`{}`, `{}[N]`", f.name, f.name),
                ArgSpec::RequiredPointer => format!("`{}[/json/pointer]`", f.name),
                ArgSpec::RequiredPath => format!("`{}[dotted.path]`", f.name),
                ArgSpec::RequiredKey => format!("`{}[key]`", f.name),
                ArgSpec::OptionalKey => format!("`{}`, `{}[key]`", f.name, f.name),
            };
            let from = match f.extract {
                Extract::Str(p) => format!("`{}` (string)", p.join(".")),
                Extract::Json(p) => format!("`{}` (as JSON text)", p.join(".")),
                Extract::Bool(p) => format!("`{}` (boolean)", p.join(".")),
                Extract::Special(_) => "computed".to_string(),
            };
            out.push_str(&format!("| {name} | {} | {from} | {} |\n", f.ty, f.desc));
        }
        if !src.missing.is_empty() {
            out.push_str(&format!(
                "\nFalco fields not filled yet (a rule naming one is loaded, listed with the field, and not run): {}.\n",
                src.missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        out.push('\n');
    }
    out
}

const BEGIN: &str = "<!-- BEGIN GENERATED FIELD TABLES -->\n";
const END: &str = "<!-- END GENERATED FIELD TABLES -->\n";

#[test]
fn fields_doc_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/fields.md");
    let doc = std::fs::read_to_string(&path).expect("docs/fields.md");
    let (a, b) = (
        doc.find(BEGIN).expect("begin marker"),
        doc.find(END).expect("end marker"),
    );
    let current = &doc[a + BEGIN.len()..b];
    let want = generated_tables();
    if current != want {
        if std::env::var_os("HARRIER_BLESS").is_some() {
            let new = format!("{}{BEGIN}{want}{}", &doc[..a], &doc[b..]);
            std::fs::write(&path, new).unwrap();
        } else {
            panic!("docs/fields.md is out of date: run HARRIER_BLESS=1 cargo test -p harrier-events --test fields_doc");
        }
    }
}
