//! Embeds every rule's documentation (`docs/rules/<id>.md`) so that `pgrehearse explain <id>` works
//! from an installed binary. The generated table is checked against the rule registry by a test.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut docs: Vec<(String, String)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            println!("cargo::rerun-if-changed={}", path.display());
            if path.extension().and_then(|e| e.to_str()) != Some("md") {
                continue;
            }
            let Some(id) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            docs.push((id.to_string(), path.display().to_string()));
        }
    }
    docs.sort();
    let mut out =
        String::from("/// `(rule id, markdown)` for every file in docs/rules, sorted by id.\n");
    out.push_str("pub static RULE_DOCS: &[(&str, &str)] = &[\n");
    for (id, path) in &docs {
        out.push_str(&format!("    ({id:?}, include_str!({path:?})),\n"));
    }
    out.push_str("];\n");
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        panic!("cargo sets OUT_DIR for build scripts");
    };
    let target = Path::new(&out_dir).join("rule_docs.rs");
    if let Err(e) = std::fs::write(&target, out) {
        panic!("could not write {}: {e}", target.display());
    }
}
