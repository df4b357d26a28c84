//! `prisma.config.{ts,mts,cts,js,mjs,cjs}`: where the Prisma schema is (`schema`). The value is
//! evaluated statically, as Node would compute it, for the forms configs use: a string, a template
//! whose parts are known, `path.join(…)` / `path.resolve(…)` (from `path` or `node:path`, as a default,
//! namespace or named import) of those, `__dirname` and `import.meta.dirname` (the config's folder),
//! and `const` bindings of the same file. Prisma resolves a relative schema path from the config's
//! folder, and so does this. Anything else (an environment variable, a function of the project's own)
//! is reported as not evaluated, at its span, rather than silently finding nothing.

use std::path::{Path, PathBuf};

use pgrehearse_sql::Span;

use crate::declared::drizzle::ts::{self, Module, Node};

/// The config file names Prisma looks for, in its order.
pub const CONFIG_NAMES: &[&str] = &[
    "prisma.config.ts",
    "prisma.config.mts",
    "prisma.config.cts",
    "prisma.config.js",
    "prisma.config.mjs",
    "prisma.config.cjs",
];

/// What a config says about the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaSetting {
    /// No `schema` key (or a config that is not an object): Prisma's default applies.
    Absent,
    /// The schema's path, relative to the repository root.
    Path(PathBuf),
    /// `schema` is computed in a way that cannot be evaluated statically: `what` says how, at `span`.
    NotEvaluated { span: Span, what: String },
}

/// Reads the `schema` setting of the config `rel` (relative to the root), whose text is `text`.
/// `None` when the file does not parse.
pub fn schema_setting(rel: &Path, text: &str) -> Option<SchemaSetting> {
    let module = ts::parse(text).ok()?;
    let Some(config) = config_object(&module) else {
        return Some(SchemaSetting::Absent);
    };
    let Node::Object(props, _) = config else {
        return Some(SchemaSetting::Absent);
    };
    let Some(value) = props
        .iter()
        .rev()
        .find(|p| p.key.as_deref() == Some("schema"))
        .map(|p| &p.value)
    else {
        return Some(SchemaSetting::Absent);
    };
    let base = rel.parent().unwrap_or(Path::new(""));
    let ev = Evaluator { module: &module };
    Some(match ev.eval(value, 0) {
        Ok(Value::Relative(p)) if !p.starts_with('/') => {
            SchemaSetting::Path(normalize(&base.join(p)))
        }
        Ok(Value::ConfigDir(p)) => {
            SchemaSetting::Path(normalize(&base.join(p.trim_start_matches('/'))))
        }
        Ok(Value::Absolute(p) | Value::Relative(p)) => SchemaSetting::NotEvaluated {
            span: value.span(),
            what: format!("an absolute path (`{p}`) outside the repository"),
        },
        Ok(Value::PathModule | Value::PathFunction(_)) => SchemaSetting::NotEvaluated {
            span: value.span(),
            what: "not a path".into(),
        },
        Err((span, what)) => SchemaSetting::NotEvaluated { span, what },
    })
}

/// The object a config exports: `defineConfig({…})`, `{…} satisfies PrismaConfig`, or a binding of
/// either.
fn config_object(module: &Module) -> Option<Node> {
    let mut node = module.default_export.clone()?;
    for _ in 0..4 {
        node = match node {
            Node::Call(_, args, _) => args.into_iter().next()?,
            Node::Ident(name, _) => module
                .bindings
                .iter()
                .find(|b| b.name == name)?
                .init
                .clone(),
            other => return Some(other),
        };
    }
    Some(node)
}

/// A value while evaluating a path expression.
#[derive(Clone, Debug)]
enum Value {
    /// A path relative to the config's folder (or any string).
    Relative(String),
    /// A path under the config's folder, as `__dirname` makes it (`""` is the folder itself).
    ConfigDir(String),
    /// An absolute path elsewhere.
    Absolute(String),
    /// The `path` module itself.
    PathModule,
    /// `join` or `resolve`, imported by name.
    PathFunction(&'static str),
}

type Failure = (Span, String);

const MAX_DEPTH: usize = 32;

struct Evaluator<'a> {
    module: &'a Module,
}

impl Evaluator<'_> {
    fn eval(&self, node: &Node, depth: usize) -> Result<Value, Failure> {
        if depth > MAX_DEPTH {
            return Err((node.span(), "a value nested too deeply".into()));
        }
        let d = depth + 1;
        match node {
            Node::Str(s, _) => Ok(Value::Relative(s.clone())),
            Node::Template(None, quasis, exprs, _) => {
                let mut parts = Vec::new();
                for (i, q) in quasis.iter().enumerate() {
                    parts.push(Value::Relative(q.clone()));
                    if let Some(e) = exprs.get(i) {
                        parts.push(self.eval(e, d)?);
                    }
                }
                concat(parts, node.span())
            }
            Node::Ident(name, _) if name == "__dirname" => Ok(Value::ConfigDir(String::new())),
            Node::Member(object, property, _)
                if property == "dirname" && matches!(**object, Node::Other("`import.meta`", _)) =>
            {
                Ok(Value::ConfigDir(String::new()))
            }
            Node::Ident(name, span) => self.ident(name, *span, d),
            Node::Call(callee, args, span) => {
                let function = match self.eval(callee, d) {
                    Ok(Value::PathFunction(f)) => f,
                    _ => return Err((*span, format!("a call to `{}`", callee_text(callee)))),
                };
                let args = args
                    .iter()
                    .map(|a| self.eval(a, d))
                    .collect::<Result<Vec<_>, _>>()?;
                path_call(function, args, *span)
            }
            Node::Member(object, property, span) => match self.eval(object, d) {
                Ok(Value::PathModule) => match property.as_str() {
                    "join" => Ok(Value::PathFunction("join")),
                    "resolve" => Ok(Value::PathFunction("resolve")),
                    other => Err((*span, format!("`path.{other}`"))),
                },
                _ => Err((*span, format!("`{}`", callee_text(node)))),
            },
            Node::Other(what, span) => Err((*span, (*what).to_string())),
            other => Err((other.span(), "a value that is not a path".into())),
        }
    }

    /// A name: the `path` module or one of its functions (imported from `path` / `node:path`), or a
    /// `const` of this file.
    fn ident(&self, name: &str, span: Span, depth: usize) -> Result<Value, Failure> {
        if let Some(import) = self.module.imports.iter().find(|i| i.local == name) {
            if !matches!(import.source.as_str(), "path" | "node:path") {
                return Err((span, format!("`{name}`, imported from `{}`", import.source)));
            }
            return match import.imported.as_deref() {
                None | Some("default") => Ok(Value::PathModule),
                Some("join") => Ok(Value::PathFunction("join")),
                Some("resolve") => Ok(Value::PathFunction("resolve")),
                Some(other) => Err((span, format!("`path.{other}`"))),
            };
        }
        match self.module.bindings.iter().find(|b| b.name == name) {
            Some(binding) => self.eval(&binding.init, depth),
            None => Err((span, format!("`{name}`, which is not defined in the file"))),
        }
    }
}

/// The text of a callee, for messages (`process.env.SCHEMA`, `getSchema`).
fn callee_text(node: &Node) -> String {
    match node {
        Node::Ident(name, _) => name.clone(),
        Node::Member(object, property, _) => format!("{}.{property}", callee_text(object)),
        Node::Call(callee, _, _) => format!("{}(…)", callee_text(callee)),
        Node::Other(what, _) => what.trim_matches('`').to_string(),
        _ => "…".into(),
    }
}

fn text_of(v: &Value) -> Option<(u8, &str)> {
    match v {
        Value::Relative(s) => Some((0, s)),
        Value::ConfigDir(s) => Some((1, s)),
        Value::Absolute(s) => Some((2, s)),
        _ => None,
    }
}

/// A template's parts joined: only the first may be a folder (`${__dirname}/prisma`).
fn concat(parts: Vec<Value>, span: Span) -> Result<Value, Failure> {
    let mut kind = 0;
    let mut text = String::new();
    for (i, p) in parts.iter().enumerate() {
        let Some((k, s)) = text_of(p) else {
            return Err((span, "a template with a value that is not a path".into()));
        };
        if k != 0 {
            if i != 0 && !(i == 1 && text.is_empty()) {
                return Err((span, "a template with a folder in the middle".into()));
            }
            kind = k;
        }
        text.push_str(s);
    }
    Ok(match kind {
        1 => Value::ConfigDir(text.trim_start_matches('/').to_string()),
        2 => Value::Absolute(text),
        _ if text.starts_with('/') => Value::Absolute(text),
        _ => Value::Relative(text),
    })
}

/// `path.join(…)` / `path.resolve(…)` over known paths. `resolve` starts from the working
/// directory, which for Prisma's CLI is the folder of the config it loads.
fn path_call(function: &str, args: Vec<Value>, span: Span) -> Result<Value, Failure> {
    let mut kind = 0u8;
    let mut segments: Vec<String> = Vec::new();
    for a in &args {
        let Some((k, s)) = text_of(a) else {
            return Err((
                span,
                format!("`path.{function}` of a value that is not a path"),
            ));
        };
        let absolute = k != 0 || s.starts_with('/');
        if absolute && (function == "resolve" || segments.is_empty()) {
            // resolve restarts at an absolute argument; join only keeps a leading one.
            kind = if k == 0 { 2 } else { k };
            segments.clear();
        } else if k != 0 {
            return Err((
                span,
                format!("`path.{function}` with a folder after the first part"),
            ));
        }
        if !s.is_empty() {
            segments.push(s.to_string());
        }
    }
    if function == "resolve" && kind == 0 {
        kind = 1;
    }
    let joined = segments.join("/");
    Ok(match kind {
        1 => Value::ConfigDir(joined),
        2 => Value::Absolute(format!("/{}", joined.trim_start_matches('/'))),
        _ => Value::Relative(joined),
    })
}

/// `a/./b/../c` as `a/c` (see [`crate::paths::lexical`]).
fn normalize(p: &Path) -> PathBuf {
    crate::paths::lexical(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(text: &str) -> SchemaSetting {
        schema_setting(Path::new("apps/api/prisma.config.ts"), text).expect("parses")
    }

    fn path(p: &str) -> SchemaSetting {
        SchemaSetting::Path(PathBuf::from(p))
    }

    #[test]
    fn schema_paths_are_evaluated_from_the_config_folder() {
        for (text, expected) in [
            (
                "import { defineConfig } from 'prisma/config';\nexport default defineConfig({ schema: './prisma/schema.prisma' });",
                "apps/api/prisma/schema.prisma",
            ),
            (
                "import path from 'node:path';\nexport default defineConfig({ schema: path.join(__dirname, 'prisma', 'schema.prisma') });",
                "apps/api/prisma/schema.prisma",
            ),
            (
                "import * as path from 'path';\nexport default { schema: path.resolve(__dirname, 'db/../prisma', 'schema') } satisfies PrismaConfig;",
                "apps/api/prisma/schema",
            ),
            (
                "import { join } from 'node:path';\nexport default defineConfig({ schema: join(import.meta.dirname, 'prisma') });",
                "apps/api/prisma",
            ),
            (
                "import path from 'path';\nexport default defineConfig({ schema: path.join('prisma', 'app.prisma') });",
                "apps/api/prisma/app.prisma",
            ),
            (
                "import { resolve } from 'path';\nexport default defineConfig({ schema: resolve('prisma/app.prisma') });",
                "apps/api/prisma/app.prisma",
            ),
            (
                "import path from 'path';\nconst dir = path.join(__dirname, 'prisma');\nconst config = { schema: `${dir}/app.prisma` };\nexport default config;",
                "apps/api/prisma/app.prisma",
            ),
            (
                "export default defineConfig({ schema: `${__dirname}/../shared/schema.prisma` });",
                "apps/shared/schema.prisma",
            ),
            (
                "import path from 'path';\nmodule.exports = { schema: path.join(__dirname, 'schema.prisma') };",
                "apps/api/schema.prisma",
            ),
        ] {
            assert_eq!(setting(text), path(expected), "{text}");
        }
    }

    #[test]
    fn values_that_cannot_be_evaluated_say_what_and_where() {
        for (text, at, what) in [
            (
                "export default defineConfig({ schema: process.env.PRISMA_SCHEMA ?? 'prisma' });",
                "process.env.PRISMA_SCHEMA ?? 'prisma'",
                "a logical expression",
            ),
            (
                "export default defineConfig({ schema: process.env.PRISMA_SCHEMA });",
                "process.env.PRISMA_SCHEMA",
                "`process.env.PRISMA_SCHEMA`",
            ),
            (
                "import { schemaPath } from './paths';\nexport default defineConfig({ schema: schemaPath() });",
                "schemaPath()",
                "a call to `schemaPath`",
            ),
            (
                "import { dir } from './paths';\nexport default defineConfig({ schema: dir });",
                "dir",
                "`dir`, imported from `./paths`",
            ),
            (
                "import path from 'path';\nexport default defineConfig({ schema: path.dirname(__filename) });",
                "path.dirname(__filename)",
                "a call to `path.dirname`",
            ),
            (
                "export default defineConfig({ schema: getSchema() });",
                "getSchema()",
                "a call to `getSchema`",
            ),
            (
                "export default defineConfig({ schema: missing });",
                "missing",
                "`missing`, which is not defined in the file",
            ),
            (
                "export default defineConfig({ schema: '/srv/app/schema.prisma' });",
                "'/srv/app/schema.prisma'",
                "an absolute path (`/srv/app/schema.prisma`) outside the repository",
            ),
        ] {
            match setting(text) {
                SchemaSetting::NotEvaluated { span, what: got } => {
                    assert_eq!(span.slice(text), at, "{text}");
                    assert_eq!(got, what, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(
            setting("export default defineConfig({ migrations: { path: 'db' } });"),
            SchemaSetting::Absent
        );
    }
}
