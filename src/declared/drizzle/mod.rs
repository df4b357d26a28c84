//! Drizzle schemas (`schema.ts`), read natively: no Node at run time.
//!
//! It takes a project's schema files (found from `drizzle.config.{ts,js,json}` or named in
//! `.pgrehearse.yaml`), parses them with oxc, evaluates the declarative subset statically (`pgTable`,
//! `pgSchema(…).table`, `pgEnum`, the `drizzle-orm/pg-core` column builders, modifiers and table extras,
//! following imports and `export * from` between schema files) and returns a [`Translation`]: the DDL
//! drizzle-kit 0.31 would generate (its default names included), where each object is declared in the
//! `.ts` files, and findings about the files themselves (what could not be evaluated, other dialects,
//! tables declared twice). It never runs the code: anything computed at run time is a notice at its span.

mod config;
mod ddl;
mod eval;
pub(crate) mod ts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgrehearse_sql::Span;

use crate::model::{Category, Finding, Severity};
use crate::runner::{DeclaredSchema, GeneratedStatement};

pub use config::{DrizzleConfig, find_config};
pub use eval::Casing;

/// A Drizzle schema translated to SQL.
#[derive(Clone, Debug, Default)]
pub struct Translation {
    /// The DDL, statement per line group, in drizzle-kit's order (schemas, enums, tables, foreign keys, indexes).
    pub sql: String,
    /// The statements to load, each with where its objects are declared (spans into the `.ts` files).
    pub statements: Vec<GeneratedStatement>,
    pub findings: Vec<Finding>,
    /// Every file read, relative to the root, with its text (for reports).
    pub files: Vec<(PathBuf, Arc<str>)>,
}

/// A schema file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum DrizzleError {
    #[error("{}: could not read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: TypeScript syntax error: {message}", path.display())]
    Syntax {
        path: PathBuf,
        /// Byte offset of the error.
        offset: usize,
        line: usize,
        column: usize,
        message: String,
        text: Arc<str>,
    },
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind(['\n', '\r']).map(|i| i + 1).unwrap_or(0);
    let line = 1 + before.matches('\n').count() + before.matches('\r').count()
        - before.matches("\r\n").count();
    (line, before[line_start..].chars().count() + 1)
}

/// `a/./b/../c` as `a/c` (see [`crate::paths::lexical`]).
fn normalize(p: &Path) -> PathBuf {
    crate::paths::lexical(p)
}

/// Where a relative import of `from` may live, in the order TypeScript tries them.
fn candidates(from: &Path, spec: &str) -> Vec<PathBuf> {
    let base = normalize(&from.parent().unwrap_or(Path::new("")).join(spec));
    let mut out = Vec::new();
    let s = base.to_string_lossy().to_string();
    for (js, ts) in [
        (".js", ".ts"),
        (".mjs", ".mts"),
        (".cjs", ".cts"),
        (".jsx", ".tsx"),
    ] {
        if let Some(stem) = s.strip_suffix(js) {
            out.push(PathBuf::from(format!("{stem}{ts}")));
        }
    }
    out.push(base.clone());
    for ext in ["ts", "tsx", "mts", "js", "mjs"] {
        out.push(PathBuf::from(format!("{s}.{ext}")));
    }
    for ext in ["ts", "js"] {
        out.push(base.join(format!("index.{ext}")));
    }
    out
}

/// Reads a file by its path relative to the root; `None` when it does not exist.
pub type Loader<'l> = dyn FnMut(&Path) -> Option<Result<Arc<str>, std::io::Error>> + 'l;

/// Translates the schema files under `root` named by `entries` (relative paths), following their
/// relative imports and re-exports.
pub fn translate(
    root: &Path,
    entries: &[PathBuf],
    casing: Casing,
) -> Result<Translation, DrizzleError> {
    let mut loader = |p: &Path| {
        if let Err(e) = crate::paths::inside(root, p) {
            return Some(Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                e,
            )));
        }
        let abs = root.join(p);
        if !abs.is_file() {
            return None;
        }
        Some(std::fs::read_to_string(abs).map(Arc::from))
    };
    let packages = workspace_packages(root);
    translate_with_packages(&mut loader, entries, casing, &packages)
}

/// A package of the repository's JavaScript workspace: its folder (relative to the root) and the
/// `exports` subpaths of its package.json (`"./db/schema": "./src/db/schema.ts"`).
#[derive(Clone, Debug, Default)]
pub struct Package {
    pub dir: PathBuf,
    pub exports: Vec<(String, String)>,
    /// `types`, `module` or `main`, in that order of preference.
    pub main: Option<String>,
}

/// The workspace packages by name: the folders that the root package.json's `workspaces` (an array or
/// `{packages: […]}`) or pnpm-workspace.yaml's `packages` list (`packages/*`, `apps/**`, a folder)
/// and whose package.json has a `name`.
pub fn workspace_packages(root: &Path) -> HashMap<String, Package> {
    let mut patterns: Vec<String> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(root.join("package.json"))
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
    {
        let list = match &json["workspaces"] {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Object(o) => o
                .get("packages")
                .and_then(|p| p.as_array().cloned())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        patterns.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    if let Ok(text) = std::fs::read_to_string(root.join("pnpm-workspace.yaml"))
        && let Ok(yaml) = serde_norway::from_str::<serde_norway::Value>(&text)
        && let Some(list) = yaml.get("packages").and_then(|p| p.as_sequence())
    {
        patterns.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for pattern in patterns.iter().filter(|p| !p.starts_with('!')) {
        let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
        if pattern.split('/').any(|part| part == "..") {
            continue;
        }
        match pattern.split_once('*') {
            None => dirs.push(PathBuf::from(pattern)),
            Some((base, _)) => {
                let deep = pattern.contains("**");
                let base = PathBuf::from(base.trim_end_matches('/'));
                let mut stack = vec![(base, 0)];
                while let Some((dir, depth)) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let name = entry.file_name().to_string_lossy().to_string();
                        if name == "node_modules" || name.starts_with('.') {
                            continue;
                        }
                        if entry.file_type().is_ok_and(|t| t.is_dir()) {
                            let child = dir.join(&name);
                            if deep && depth < 4 {
                                stack.push((child.clone(), depth + 1));
                            }
                            dirs.push(child);
                        }
                    }
                }
            }
        }
    }
    let mut packages = HashMap::new();
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(root.join(&dir).join("package.json")) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(name) = json["name"].as_str() else {
            continue;
        };
        let target = |v: &serde_json::Value| -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => ["types", "import", "default", "require"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(|t| t.as_str()).map(str::to_string)),
                _ => None,
            }
        };
        let exports = match &json["exports"] {
            serde_json::Value::Object(o) if o.keys().all(|k| k.starts_with('.')) => o
                .iter()
                .filter_map(|(k, v)| target(v).map(|t| (k.clone(), t)))
                .collect(),
            other => target(other)
                .map(|t| vec![(".".to_string(), t)])
                .unwrap_or_default(),
        };
        let main = ["types", "module", "main"]
            .iter()
            .find_map(|k| json[*k].as_str().map(str::to_string));
        packages.insert(name.to_string(), Package { dir, exports, main });
    }
    packages
}

/// The files a bare import of a workspace package (`@scope/db/schema`) may name.
fn package_candidates(packages: &HashMap<String, Package>, spec: &str) -> Vec<PathBuf> {
    let Some((package, rest)) = packages.iter().find_map(|(name, p)| {
        if spec == name {
            Some((p, String::new()))
        } else {
            spec.strip_prefix(&format!("{name}/"))
                .map(|rest| (p, rest.to_string()))
        }
    }) else {
        return Vec::new();
    };
    let manifest = package.dir.join("package.json");
    let subpath = if rest.is_empty() {
        ".".to_string()
    } else {
        format!("./{rest}")
    };
    let mut out = Vec::new();
    for (key, target) in &package.exports {
        if *key == subpath {
            out.extend(candidates(&manifest, target));
        } else if let (Some(prefix), Some(stem)) = (key.strip_suffix('*'), target.split_once('*'))
            && let Some(wild) = subpath.strip_prefix(prefix)
        {
            out.extend(candidates(
                &manifest,
                &format!("{}{wild}{}", stem.0, stem.1),
            ));
        }
    }
    if rest.is_empty() {
        if let Some(main) = &package.main {
            out.extend(candidates(&manifest, main));
        }
        out.extend(candidates(&manifest, "./src/index"));
        out.extend(candidates(&manifest, "./index"));
    } else {
        out.extend(candidates(&manifest, &format!("./{rest}")));
        out.extend(candidates(&manifest, &format!("./src/{rest}")));
    }
    out
}

/// [`translate`] with files from `load` (tests, benchmarks, fuzzing).
pub fn translate_with(
    load: &mut Loader<'_>,
    entries: &[PathBuf],
    casing: Casing,
) -> Result<Translation, DrizzleError> {
    translate_with_packages(load, entries, casing, &HashMap::new())
}

/// [`translate_with`], resolving bare imports of the workspace's `packages` to their files.
pub fn translate_with_packages(
    load: &mut Loader<'_>,
    entries: &[PathBuf],
    casing: Casing,
    packages: &HashMap<String, Package>,
) -> Result<Translation, DrizzleError> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut texts: Vec<Arc<str>> = Vec::new();
    let mut files: Vec<eval::File> = Vec::new();
    let mut index: HashMap<PathBuf, usize> = HashMap::new();
    let mut queue: Vec<PathBuf> = entries.iter().map(|p| normalize(p)).collect();
    // Per file: each relative import and the file it resolves to.
    let mut imports: Vec<Vec<(String, PathBuf)>> = Vec::new();
    let mut i = 0;
    while i < queue.len() {
        let path = queue[i].clone();
        i += 1;
        if index.contains_key(&path) {
            continue;
        }
        let text = match load(&path) {
            Some(Ok(t)) => t,
            Some(Err(source)) => return Err(DrizzleError::Read { path, source }),
            None => {
                return Err(DrizzleError::Read {
                    path,
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                });
            }
        };
        let module = ts::parse(&text).map_err(|e| {
            let (line, column) = line_col(&text, e.offset);
            DrizzleError::Syntax {
                path: path.clone(),
                offset: e.offset,
                line,
                column,
                message: e.message,
                text: text.clone(),
            }
        })?;
        let specs: Vec<String> = module
            .imports
            .iter()
            .map(|imp| imp.source.clone())
            .chain(module.export_all.iter().map(|(s, _)| s.clone()))
            .chain(module.reexports.iter().filter_map(|r| r.2.clone()))
            .collect();
        let mut pending: Vec<(String, PathBuf)> = Vec::new();
        for spec in specs {
            if pending.iter().any(|(s, _)| *s == spec) {
                continue;
            }
            let relative = spec.starts_with("./") || spec.starts_with("../");
            let options = if relative {
                candidates(&path, &spec)
            } else {
                package_candidates(packages, &spec)
            };
            let found = options.into_iter().find(|c| {
                if index.contains_key(c) || queue.contains(c) {
                    return true;
                }
                load(c).is_some()
            });
            if let Some(c) = found {
                if !queue.contains(&c) {
                    queue.push(c.clone());
                }
                pending.push((spec, c));
            }
        }
        index.insert(path.clone(), files.len());
        paths.push(path);
        texts.push(text);
        files.push(eval::File {
            module,
            resolved: HashMap::new(),
        });
        imports.push(pending);
    }
    // Import targets as file indexes, now that every file has one.
    for (f, pending) in files.iter_mut().zip(imports) {
        f.resolved = pending
            .into_iter()
            .filter_map(|(s, p)| index.get(&p).map(|&i| (s, i)))
            .collect();
    }
    let mut ev = eval::Eval::new(&files, casing);
    ev.run();
    let mut out = ddl::render(&ev, &paths, &texts);
    out.files = paths.into_iter().zip(texts).collect();
    Ok(out)
}

/// A finding about a Drizzle schema file.
pub(crate) fn finding(
    rule: &str,
    category: Category,
    severity: Severity,
    message: String,
    file: &Path,
    span: Option<Span>,
) -> Finding {
    Finding::new(rule, category, severity, message).at(file, span)
}

/// The declared schema for the Drizzle project whose config is `config` (relative to the root).
pub fn declared_from_config(
    root: &Path,
    config: &DrizzleConfig,
) -> Result<Translation, DrizzleError> {
    translate(root, &config.schema_files(root), config.casing)
}

/// Strips the root from a path, for display.
pub fn relative(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}

/// Whether `path` names a Drizzle schema file or config (`.ts`, `.js`, `drizzle.config.*`).
pub fn is_drizzle_path(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("drizzle.config.")
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "ts" | "mts" | "tsx" | "js" | "mjs"))
}

/// Schema files looked for beside a Drizzle migrations folder when no drizzle config names them.
const CONVENTIONAL: &[&str] = &[
    "src/db/schema.ts",
    "src/db/schema/index.ts",
    "src/schema.ts",
    "src/schema/index.ts",
    "db/schema.ts",
    "schema.ts",
    "src/lib/db/schema.ts",
    "src/server/db/schema.ts",
];

/// The schema files of the Drizzle project that owns the migrations folder `dir` (relative to the
/// root): from its drizzle config (nearest parent whose `out` is `dir`), else a conventional
/// `schema.ts` in the folder's project. Returns the entries and the casing.
pub fn project_schema(root: &Path, dir: &Path) -> Option<(Vec<PathBuf>, Casing)> {
    if let Some(c) = find_config(root, dir) {
        // A project for another database: its migrations are reported by discovery, not compared.
        if c.dialect.as_deref().is_some_and(|d| d != "postgresql") {
            return None;
        }
        let files = c.schema_files(root);
        if !files.is_empty() {
            return Some((files, c.casing));
        }
    }
    let mut at = dir.parent();
    while let Some(d) = at {
        for c in CONVENTIONAL {
            let p = d.join(c);
            if root.join(&p).is_file() {
                return Some((vec![p], Casing::Preserve));
            }
        }
        at = d.parent();
    }
    None
}

/// The declared schema for `path` (a schema file, or a drizzle config) named in the configuration:
/// the entries to translate and the casing.
pub fn entries_for(root: &Path, path: &Path) -> (Vec<PathBuf>, Casing) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("drizzle.config.")
        && let Some(c) = config::read_config(root, path)
    {
        return (c.schema_files(root), c.casing);
    }
    // A schema file: use the casing of a drizzle config at the root, if any.
    let casing = CONFIG_NAMES_AT_ROOT
        .iter()
        .find_map(|n| config::read_config(root, Path::new(n)).filter(|_| root.join(n).is_file()))
        .map(|c| c.casing)
        .unwrap_or(Casing::Preserve);
    (vec![path.to_path_buf()], casing)
}

const CONFIG_NAMES_AT_ROOT: &[&str] = config::CONFIG_NAMES;

/// A declared schema, the findings about its files, and every file read (for reports).
pub type Declared = (DeclaredSchema, Vec<Finding>, Vec<(PathBuf, Arc<str>)>);

/// Translates `entries` into a declared schema labelled with the first entry; every file read is
/// returned for reports.
pub fn declared(
    root: &Path,
    entries: &[PathBuf],
    casing: Casing,
) -> Result<Declared, DrizzleError> {
    let t = translate(root, entries, casing)?;
    // Named after the file that declares the most objects (the schema, not a shared-columns helper).
    let mut counts: HashMap<&Path, usize> = HashMap::new();
    for s in &t.statements {
        *counts.entry(s.file.as_path()).or_default() += 1;
    }
    let main = t
        .files
        .iter()
        .max_by_key(|(p, _)| {
            (
                counts.get(p.as_path()).copied().unwrap_or(0),
                std::cmp::Reverse(p.clone()),
            )
        })
        .map(|(p, text)| (p.clone(), text.clone()));
    let (file, text) =
        main.unwrap_or_else(|| (entries.first().cloned().unwrap_or_default(), Arc::from("")));
    Ok((
        DeclaredSchema {
            file,
            text,
            generated: Some(t.statements.into()),
            extensions: Vec::new(),
        },
        t.findings,
        t.files,
    ))
}
