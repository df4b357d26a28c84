//! The crate's shape: modules of `src/` import only from their own floor or the floors below, and no
//! two modules import each other through any chain. The floors are the table in `src/lib.rs`'s module
//! documentation; this test reads that table and every `crate::` path of every file under `src/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Floor of each top-level module, from the `//! | N | [`a`], [`b`] | …` rows of `src/lib.rs`.
fn floors() -> BTreeMap<String, u32> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let mut cells = row.split('|');
        let Some(floor) = cells.next().and_then(|c| c.trim().parse::<u32>().ok()) else {
            continue;
        };
        let modules = cells.next().unwrap_or_default();
        for name in modules.split(',') {
            let name = name.trim().trim_start_matches("[`").trim_end_matches("`]");
            if !name.is_empty() {
                out.insert(name.to_string(), floor);
            }
        }
    }
    out
}

/// Top-level modules declared by `src/lib.rs` (`pub mod x;` / `mod x;`).
fn declared_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_string())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/discover/mod.rs` → `discover`, `src/check.rs` →
/// `check`); `None` for the crate root and the binary.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The code of `text` without comments (line comments and doc comments), so doc links do not count.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file's code names through `crate::`: `crate::a::…`, and every element of
/// `crate::{a, b::c, …}`.
fn imports(text: &str) -> BTreeSet<String> {
    let code = code(text);
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `pgrehearse_crate::` or similar
        }
        if let Some(group) = rest.strip_prefix('{') {
            // A brace group: the first identifier of each top-level element.
            let mut depth = 0usize;
            let mut element_start = true;
            let mut ident = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => element_start = true,
                    _ => {}
                }
                if element_start {
                    if c.is_alphanumeric() || c == '_' {
                        ident.push(c);
                    } else if !ident.is_empty() {
                        out.insert(std::mem::take(&mut ident));
                        element_start = false;
                    }
                }
            }
            if !ident.is_empty() {
                out.insert(ident);
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                out.insert(ident);
            }
        }
    }
    out
}

/// Every module's imports of other top-level modules, with the files that make each edge.
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(&file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read source");
        let rel = file
            .strip_prefix(src())
            .unwrap_or(&file)
            .display()
            .to_string();
        for to in imports(&text) {
            if to != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(rel.clone());
            }
        }
    }
    edges
}

#[test]
fn every_module_has_a_floor() {
    let floors = floors();
    assert!(
        floors.len() >= 10,
        "the floors table in src/lib.rs was not found"
    );
    let declared = declared_modules();
    let missing: Vec<_> = declared
        .iter()
        .filter(|m| !floors.contains_key(*m))
        .collect();
    let unknown: Vec<_> = floors.keys().filter(|m| !declared.contains(*m)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "modules without a floor in src/lib.rs: {missing:?}; floors naming no module: {unknown:?}"
    );
}

#[test]
fn modules_import_only_downward() {
    let floors = floors();
    let mut problems = Vec::new();
    for (from, tos) in graph() {
        let Some(&f) = floors.get(&from) else {
            continue; // reported by every_module_has_a_floor
        };
        for (to, files) in tos {
            match floors.get(&to) {
                Some(&t) if t <= f => {}
                Some(&t) => problems.push(format!(
                    "{from} (floor {f}) imports {to} (floor {t}) in {}",
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
                None => {} // not a module of the crate (e.g. a macro path)
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_import_cycles() {
    let graph = graph();
    // Depth-first search for a back edge; report the loop it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        loops: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            loops.push(cycle.join(" -> "));
            return;
        }
        stack.push(node.to_string());
        if let Some(tos) = graph.get(node) {
            for to in tos.keys() {
                visit(to, graph, stack, done, loops);
            }
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut loops = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut loops);
    }
    assert!(
        loops.is_empty(),
        "import cycles between modules:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_import_reader_sees_groups_and_paths() {
    let text = "use crate::{model::Finding, runner::{self, Runner}};\n\
                // crate::check is only a comment\n\
                fn f() { crate::apply::execute(); }\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["apply", "model", "runner"]);
}
