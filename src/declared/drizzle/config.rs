//! `drizzle.config.{ts,js,mjs,json}`: where the schema files are (`schema`: a path, a glob or an
//! array of them), how keys become column names (`casing`), and the migrations folder (`out`).

use std::path::{Path, PathBuf};

use super::eval::Casing;
use super::normalize;
use super::ts::{self, Node};

/// What pgrehearse reads from a drizzle config.
#[derive(Clone, Debug)]
pub struct DrizzleConfig {
    /// The config file, relative to the root.
    pub file: PathBuf,
    /// `schema` entries as written (relative to the config's folder).
    pub schema: Vec<String>,
    /// The migrations folder, relative to the root (`out`, default `drizzle`).
    pub out: PathBuf,
    pub casing: Casing,
    pub dialect: Option<String>,
}

pub const CONFIG_NAMES: &[&str] = &[
    "drizzle.config.ts",
    "drizzle.config.mts",
    "drizzle.config.js",
    "drizzle.config.mjs",
    "drizzle.config.cjs",
    "drizzle.config.json",
];

/// Finds the drizzle config of the project that owns the migrations folder `dir` (relative to the
/// root): in the folder's parents up to the root, nearest first. A config whose `out` names another
/// folder is skipped.
pub fn find_config(root: &Path, dir: &Path) -> Option<DrizzleConfig> {
    let mut at = Some(dir);
    while let Some(d) = at {
        for name in CONFIG_NAMES {
            let rel = d.join(name);
            if root.join(&rel).is_file()
                && let Some(c) = read_config(root, &rel)
                && normalize(&c.out) == normalize(dir)
            {
                return Some(c);
            }
        }
        at = d.parent();
    }
    None
}

fn str_list(v: &Node) -> Vec<String> {
    match v {
        Node::Str(s, _) => vec![s.clone()],
        Node::Template(None, q, e, _) if e.is_empty() => vec![q.concat()],
        Node::Array(items, _) => items.iter().flat_map(str_list).collect(),
        _ => Vec::new(),
    }
}

/// Reads a config file (relative to the root); `None` when it cannot be read statically.
pub fn read_config(root: &Path, rel: &Path) -> Option<DrizzleConfig> {
    let text = std::fs::read_to_string(root.join(rel)).ok()?;
    let base = rel.parent().unwrap_or(Path::new(""));
    let mut c = DrizzleConfig {
        file: rel.to_path_buf(),
        schema: Vec::new(),
        out: base.join("drizzle"),
        casing: Casing::Preserve,
        dialect: None,
    };
    let mut set = |key: &str, strings: Vec<String>| match key {
        "schema" => c.schema = strings,
        "out" => {
            if let Some(o) = strings.first() {
                c.out = normalize(&base.join(o));
            }
        }
        "casing" => {
            c.casing = match strings.first().map(String::as_str) {
                Some("snake_case") => Casing::SnakeCase,
                Some("camelCase") => Casing::CamelCase,
                _ => Casing::Preserve,
            }
        }
        "dialect" => c.dialect = strings.first().cloned(),
        _ => {}
    };
    if rel.extension().is_some_and(|e| e == "json") {
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        for key in ["schema", "out", "casing", "dialect"] {
            let strings = match v.get(key) {
                Some(serde_json::Value::String(s)) => vec![s.clone()],
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => continue,
            };
            set(key, strings);
        }
    } else {
        let m = ts::parse(&text).ok()?;
        let mut obj = m.default_export?;
        // defineConfig({...}) or a binding: `const config = {...}; export default config;`
        for _ in 0..4 {
            obj = match obj {
                Node::Call(_, args, _) => args.into_iter().next()?,
                Node::Ident(name, _) => m.bindings.iter().find(|b| b.name == name)?.init.clone(),
                other => other,
            };
        }
        let Node::Object(props, _) = obj else {
            return None;
        };
        for p in props {
            if let Some(k) = &p.key {
                set(k, str_list(&p.value));
            }
        }
    }
    Some(c)
}

impl DrizzleConfig {
    /// The schema files, relative to the root, sorted: files as named, directories' `.ts` files, globs.
    pub fn schema_files(&self, root: &Path) -> Vec<PathBuf> {
        let base = self.file.parent().unwrap_or(Path::new(""));
        let mut out = Vec::new();
        for s in &self.schema {
            let rel = normalize(&base.join(s));
            if s.contains(['*', '?', '{', '[']) {
                out.extend(glob(root, &rel));
            } else if root.join(&rel).is_dir() {
                let mut files = Vec::new();
                walk(root, &rel, &mut files);
                out.extend(files.into_iter().filter(|f| is_source(f)));
            } else {
                out.push(rel);
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

fn is_source(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "ts" | "tsx" | "mts" | "js" | "mjs"))
        && !p.to_string_lossy().ends_with(".d.ts")
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let child = rel.join(e.file_name());
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if e.file_name() != "node_modules" {
                walk(root, &child, out);
            }
        } else {
            out.push(child);
        }
    }
}

/// Files under the glob's literal prefix that match it (`*`, `**`, `?`).
fn glob(root: &Path, pattern: &Path) -> Vec<PathBuf> {
    let pat = pattern.to_string_lossy().replace('\\', "/");
    let prefix: PathBuf = pattern
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '{', '['])
        })
        .collect();
    let mut files = Vec::new();
    walk(root, &prefix, &mut files);
    files
        .into_iter()
        .filter(|f| glob_match(&pat, &f.to_string_lossy().replace('\\', "/")))
        .collect()
}

/// A minimal glob: `**` any path, `*` any run within a segment, `?` one character, `{a,b}` choices.
pub fn glob_match(pat: &str, s: &str) -> bool {
    if let Some(open) = pat.find('{')
        && let Some(close) = pat[open..].find('}')
    {
        let close = open + close;
        return pat[open + 1..close]
            .split(',')
            .any(|alt| glob_match(&format!("{}{alt}{}", &pat[..open], &pat[close + 1..]), s));
    }
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
                let rest = if p.get(2) == Some(&b'/') {
                    &p[3..]
                } else {
                    &p[2..]
                };
                (0..=s.len()).any(|i| m(rest, &s[i..]))
            }
            (Some(b'*'), _) => {
                let mut i = 0;
                loop {
                    if m(&p[1..], &s[i..]) {
                        return true;
                    }
                    if i >= s.len() || s[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            (Some(b'?'), Some(c)) if *c != b'/' => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(pat.as_bytes(), s.as_bytes())
}
