//! The TypeScript front end: oxc parses a file, and the parts a Drizzle schema can use statically
//! (imports, exports, `const` declarations and their expressions) are copied into a small owned tree.
//! Everything else becomes [`Node::Other`] with its span, so the evaluator can say what it skipped.

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Argument, ArrayExpressionElement, ArrowFunctionBody, BindingPattern, Declaration,
    ExportDefaultDeclarationKind, Expression, ImportDeclarationSpecifier, ModuleExportName,
    ObjectPropertyKind, PropertyKey, Statement, UnaryOperator,
};
use oxc_span::{GetSpan, SourceType};
use pgrehearse_sql::Span;

/// An expression, reduced to what static evaluation needs.
#[derive(Clone, Debug)]
pub enum Node {
    Ident(String, Span),
    Str(String, Span),
    Num(f64, Span),
    Bool(bool, Span),
    Null(Span),
    Member(Box<Node>, String, Span),
    Call(Box<Node>, Vec<Node>, Span),
    Object(Vec<Prop>, Span),
    Array(Vec<Node>, Span),
    Spread(Box<Node>, Span),
    /// `(a, b) => body`; a block body is reduced to its `return` expression.
    Arrow(Vec<String>, Box<Node>, Span),
    /// A template literal, tagged (`sql\`…\``) or not: raw text pieces and the expressions between them.
    Template(Option<Box<Node>>, Vec<String>, Vec<Node>, Span),
    /// Anything else, with a short description.
    Other(&'static str, Span),
}

#[derive(Clone, Debug)]
pub struct Prop {
    /// `None` for a spread (`...x`) or a computed key.
    pub key: Option<String>,
    pub value: Node,
    pub span: Span,
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Ident(_, s)
            | Node::Str(_, s)
            | Node::Num(_, s)
            | Node::Bool(_, s)
            | Node::Null(s)
            | Node::Member(_, _, s)
            | Node::Call(_, _, s)
            | Node::Object(_, s)
            | Node::Array(_, s)
            | Node::Spread(_, s)
            | Node::Arrow(_, _, s)
            | Node::Template(_, _, _, s)
            | Node::Other(_, s) => *s,
        }
    }
}

/// A top-level binding: `const name = init`.
#[derive(Clone, Debug)]
pub struct Binding {
    pub name: String,
    pub exported: bool,
    pub init: Node,
    /// The whole statement (`export const users = pgTable(…);`).
    pub span: Span,
}

/// `import { a as b } from 'x'`.
#[derive(Clone, Debug)]
pub struct Import {
    pub local: String,
    /// `None` for a namespace import (`import * as s from`), `default` for a default import.
    pub imported: Option<String>,
    pub source: String,
    pub span: Span,
    /// The whole `import … from '…';` statement.
    pub statement: Span,
}

/// A parsed module.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub bindings: Vec<Binding>,
    pub imports: Vec<Import>,
    /// `export * from 'x'`.
    pub export_all: Vec<(String, Span)>,
    /// `export { a as b } from 'x'` and `export { a as b }`: (local, exported, source).
    pub reexports: Vec<(String, String, Option<String>, Span)>,
    /// The default export's expression (for drizzle.config).
    pub default_export: Option<Node>,
    /// Top-level statements that are not declarations or imports (ignored, but listed).
    pub other: Vec<Span>,
}

/// A syntax error, with its byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

fn sp(s: oxc_span::Span) -> Span {
    Span::new(s.start as usize, s.end as usize)
}

fn export_name(n: &ModuleExportName<'_>) -> String {
    match n {
        ModuleExportName::IdentifierName(i) => i.name.as_str().to_string(),
        ModuleExportName::IdentifierReference(i) => i.name.as_str().to_string(),
        ModuleExportName::StringLiteral(s) => s.value.as_str().to_string(),
    }
}

/// Files larger than this are not schema files.
const MAX_LEN: usize = 8 << 20;

/// Parses `text` as TypeScript (`.js`/`.mjs` parse as a subset of it).
///
/// oxc's parser recurses once per nesting level (brackets, prefix operators, chained assignments), so
/// it runs on a thread whose stack grows with the file: arbitrary input can never exhaust it.
pub fn parse(text: &str) -> Result<Module, SyntaxError> {
    if text.len() > MAX_LEN {
        return Err(SyntaxError {
            offset: 0,
            message: format!("file larger than {} MiB", MAX_LEN >> 20),
        });
    }
    let stack = 32 * 1024 * 1024 + text.len().saturating_mul(1024);
    let owned = text.to_string();
    let handle = std::thread::Builder::new()
        .name("drizzle-parse".into())
        .stack_size(stack)
        .spawn(move || parse_on_this_thread(&owned));
    match handle {
        Ok(h) => h.join().unwrap_or_else(|_| {
            Err(SyntaxError {
                offset: 0,
                message: "the TypeScript parser failed on this file".into(),
            })
        }),
        Err(_) => parse_on_this_thread(text),
    }
}

fn parse_on_this_thread(text: &str) -> Result<Module, SyntaxError> {
    if text.len() >= u32::MAX as usize {
        return Err(SyntaxError {
            offset: 0,
            message: "file too large".into(),
        });
    }
    if let Some(offset) = too_deep(text) {
        return Err(SyntaxError {
            offset,
            message: format!("brackets nested deeper than {MAX_NESTING} levels"),
        });
    }
    let allocator = Allocator::default();
    let ret = oxc_parser::Parser::new(&allocator, text, SourceType::ts()).parse();
    if let Some(d) = ret.diagnostics.errors().next() {
        let offset = d
            .labels
            .first()
            .map(|l| l.offset() as usize)
            .unwrap_or(0)
            .min(text.len());
        return Err(SyntaxError {
            offset,
            message: d.message.to_string(),
        });
    }
    if ret.panicked {
        return Err(SyntaxError {
            offset: 0,
            message: "the parser gave up".into(),
        });
    }
    let mut m = Module::default();
    for stmt in &ret.program.body {
        statement(stmt, &mut m);
    }
    // `const users = pgTable(…); export { users };` exports the declaration too.
    let local_exports: Vec<String> = m
        .reexports
        .iter()
        .filter(|r| r.2.is_none())
        .map(|r| r.0.clone())
        .collect();
    for b in &mut m.bindings {
        if local_exports.contains(&b.name) {
            b.exported = true;
        }
    }
    Ok(m)
}

fn declaration(decl: &Declaration<'_>, exported: bool, span: Span, m: &mut Module) -> bool {
    match decl {
        Declaration::VariableDeclaration(v) => {
            for d in &v.declarations {
                if let BindingPattern::BindingIdentifier(id) = &d.id {
                    let init = match &d.init {
                        Some(e) => expr(e, 0),
                        None => Node::Other("a declaration without a value", sp(d.span)),
                    };
                    m.bindings.push(Binding {
                        name: id.name.as_str().to_string(),
                        exported,
                        init,
                        span: if v.declarations.len() == 1 {
                            span
                        } else {
                            sp(d.span)
                        },
                    });
                } else {
                    m.other.push(sp(d.span));
                }
            }
            true
        }
        Declaration::TSTypeAliasDeclaration(_) | Declaration::TSInterfaceDeclaration(_) => true,
        _ => false,
    }
}

fn statement(stmt: &Statement<'_>, m: &mut Module) {
    match stmt {
        Statement::VariableDeclaration(_)
        | Statement::TSTypeAliasDeclaration(_)
        | Statement::TSInterfaceDeclaration(_) => {
            let span = sp(stmt.span());
            if let Some(decl) = stmt.as_declaration()
                && !declaration(decl, false, span, m)
            {
                m.other.push(span);
            }
        }
        Statement::ImportDeclaration(i) => {
            let source = i.source.value.as_str().to_string();
            for s in i.specifiers.iter().flatten() {
                let (local, imported) = match s {
                    ImportDeclarationSpecifier::ImportSpecifier(s) => (
                        s.local.name.as_str().to_string(),
                        Some(export_name(&s.imported)),
                    ),
                    ImportDeclarationSpecifier::ImportDefaultSpecifier(s) => {
                        (s.local.name.as_str().to_string(), Some("default".into()))
                    }
                    ImportDeclarationSpecifier::ImportNamespaceSpecifier(s) => {
                        (s.local.name.as_str().to_string(), None)
                    }
                };
                m.imports.push(Import {
                    local,
                    imported,
                    source: source.clone(),
                    span: sp(s.span()),
                    statement: sp(i.span),
                });
            }
            if i.specifiers.as_ref().is_none_or(|s| s.is_empty()) {
                m.imports.push(Import {
                    local: String::new(),
                    imported: None,
                    source,
                    span: sp(i.span),
                    statement: sp(i.span),
                });
            }
        }
        Statement::ExportDeclaration(e) => {
            if !declaration(&e.declaration, true, sp(e.span), m) {
                m.other.push(sp(e.span));
            }
        }
        Statement::ExportAllDeclaration(e) => {
            if e.exported.is_none() {
                m.export_all
                    .push((e.source.value.as_str().to_string(), sp(e.span)));
            } else {
                m.other.push(sp(e.span));
            }
        }
        Statement::ExportNamedDeclaration(e) => {
            for s in &e.specifiers {
                m.reexports.push((
                    export_name(&s.local),
                    export_name(&s.exported),
                    None,
                    sp(s.span),
                ));
            }
        }
        Statement::ExportFromDeclaration(e) => {
            for s in &e.specifiers {
                m.reexports.push((
                    export_name(&s.local),
                    export_name(&s.exported),
                    Some(e.source.value.as_str().to_string()),
                    sp(s.span),
                ));
            }
        }
        Statement::ExportDefaultDeclaration(e) => {
            if let Some(x) = e.declaration.as_expression() {
                m.default_export = Some(expr(x, 0));
            } else if !matches!(
                e.declaration,
                ExportDefaultDeclarationKind::TSInterfaceDeclaration(_)
            ) {
                m.other.push(sp(e.span));
            }
        }
        Statement::TSExportAssignment(e) => {
            // `export = defineConfig({…})` (CommonJS-style TypeScript).
            m.default_export = Some(expr(&e.expression, 0));
        }
        Statement::ExpressionStatement(e) => {
            // `module.exports = {…}` in drizzle.config.js.
            if let Expression::AssignmentExpression(a) = &e.expression {
                let target = &text_of_target(a);
                if target == "module.exports" {
                    m.default_export = Some(expr(&a.right, 0));
                    return;
                }
            }
            m.other.push(sp(e.span));
        }
        Statement::EmptyStatement(_) => {}
        other => m.other.push(sp(other.span())),
    }
}

fn text_of_target(a: &oxc_ast::ast::AssignmentExpression<'_>) -> String {
    use oxc_ast::ast::AssignmentTarget;
    if let AssignmentTarget::StaticMemberExpression(s) = &a.left
        && let Expression::Identifier(o) = &s.object
    {
        return format!("{}.{}", o.name.as_str(), s.property.name.as_str());
    }
    String::new()
}

/// The parser recurses per bracket: refuse absurd nesting before it can exhaust the stack.
const MAX_NESTING: usize = 256;

/// The offset of the first bracket nested deeper than [`MAX_NESTING`], skipping strings and comments.
fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Deep nesting is legal TypeScript but never a schema; stop copying instead of overflowing the stack.
const MAX_DEPTH: usize = 200;

fn expr(e: &Expression<'_>, depth: usize) -> Node {
    let span = sp(e.span());
    if depth > MAX_DEPTH {
        return Node::Other("an expression nested too deeply", span);
    }
    let d = depth + 1;
    match e {
        Expression::Identifier(i) => Node::Ident(i.name.as_str().to_string(), span),
        Expression::StringLiteral(s) => Node::Str(s.value.as_str().to_string(), span),
        Expression::NumericLiteral(n) => Node::Num(n.value, span),
        Expression::BooleanLiteral(b) => Node::Bool(b.value, span),
        Expression::NullLiteral(_) => Node::Null(span),
        Expression::UnaryExpression(u) if u.operator == UnaryOperator::UnaryNegation => {
            match expr(&u.argument, d) {
                Node::Num(n, _) => Node::Num(-n, span),
                _ => Node::Other("a unary expression", span),
            }
        }
        Expression::StaticMemberExpression(m) => Node::Member(
            Box::new(expr(&m.object, d)),
            m.property.name.as_str().to_string(),
            span,
        ),
        Expression::ComputedMemberExpression(m) => match &m.expression {
            Expression::StringLiteral(s) => Node::Member(
                Box::new(expr(&m.object, d)),
                s.value.as_str().to_string(),
                span,
            ),
            _ => Node::Other("a computed member", span),
        },
        Expression::CallExpression(c) => Node::Call(
            Box::new(expr(&c.callee, d)),
            c.arguments.iter().map(|a| argument(a, d)).collect(),
            span,
        ),
        Expression::ObjectExpression(o) => Node::Object(
            o.properties
                .iter()
                .map(|p| match p {
                    ObjectPropertyKind::ObjectProperty(p) => {
                        let key = match &p.key {
                            PropertyKey::StaticIdentifier(i) => Some(i.name.as_str().to_string()),
                            PropertyKey::StringLiteral(s) if !p.computed => {
                                Some(s.value.as_str().to_string())
                            }
                            PropertyKey::NumericLiteral(n) if !p.computed => {
                                Some(n.value.to_string())
                            }
                            _ => None,
                        };
                        let value = if p.method {
                            // `dataType() { return 'x' }` (customType)
                            match &p.value {
                                Expression::FunctionExpression(f) => function_body(
                                    f.body.as_ref().map(|b| &b.statements[..]),
                                    sp(f.span),
                                    d,
                                    Vec::new(),
                                ),
                                other => expr(other, d),
                            }
                        } else {
                            expr(&p.value, d)
                        };
                        let value = if key.is_none() {
                            Node::Other("a computed property", sp(p.span))
                        } else {
                            value
                        };
                        Prop {
                            key,
                            value,
                            span: sp(p.span),
                        }
                    }
                    ObjectPropertyKind::SpreadProperty(s) => Prop {
                        key: None,
                        value: Node::Spread(Box::new(expr(&s.argument, d)), sp(s.span)),
                        span: sp(s.span),
                    },
                })
                .collect(),
            span,
        ),
        Expression::ArrayExpression(a) => Node::Array(
            a.elements
                .iter()
                .map(|el| match el {
                    ArrayExpressionElement::SpreadElement(s) => {
                        Node::Spread(Box::new(expr(&s.argument, d)), sp(s.span))
                    }
                    ArrayExpressionElement::Elision(e) => Node::Other("an array hole", sp(e.span)),
                    other => match other.as_expression() {
                        Some(x) => expr(x, d),
                        None => Node::Other("an array element", span),
                    },
                })
                .collect(),
            span,
        ),
        Expression::ArrowFunctionExpression(a) => {
            let params = a
                .params
                .items
                .iter()
                .map(|p| match &p.pattern {
                    BindingPattern::BindingIdentifier(i) => i.name.as_str().to_string(),
                    _ => String::new(),
                })
                .collect();
            match &a.body {
                ArrowFunctionBody::FunctionBody(b) => {
                    function_body(Some(&b.statements[..]), span, d, params)
                }
                other => match other.as_expression() {
                    Some(x) => Node::Arrow(params, Box::new(expr(x, d)), span),
                    None => Node::Other("a function", span),
                },
            }
        }
        Expression::FunctionExpression(f) => {
            let params = f
                .params
                .items
                .iter()
                .map(|p| match &p.pattern {
                    BindingPattern::BindingIdentifier(i) => i.name.as_str().to_string(),
                    _ => String::new(),
                })
                .collect();
            function_body(f.body.as_ref().map(|b| &b.statements[..]), span, d, params)
        }
        Expression::TemplateLiteral(t) => Node::Template(
            None,
            t.quasis
                .iter()
                .map(|q| q.value.raw.as_str().to_string())
                .collect(),
            t.expressions.iter().map(|x| expr(x, d)).collect(),
            span,
        ),
        Expression::TaggedTemplateExpression(t) => Node::Template(
            Some(Box::new(expr(&t.tag, d))),
            t.quasi
                .quasis
                .iter()
                .map(|q| q.value.raw.as_str().to_string())
                .collect(),
            t.quasi.expressions.iter().map(|x| expr(x, d)).collect(),
            span,
        ),
        Expression::ParenthesizedExpression(p) => expr(&p.expression, d),
        Expression::TSAsExpression(x) => expr(&x.expression, d),
        Expression::TSSatisfiesExpression(x) => expr(&x.expression, d),
        Expression::TSNonNullExpression(x) => expr(&x.expression, d),
        Expression::TSTypeAssertion(x) => expr(&x.expression, d),
        Expression::TSInstantiationExpression(x) => expr(&x.expression, d),
        Expression::ImportMeta(_) => Node::Other("`import.meta`", span),
        Expression::ChainExpression(_) => Node::Other("an optional chain", span),
        Expression::BinaryExpression(_) => Node::Other("a binary expression", span),
        Expression::ConditionalExpression(_) => Node::Other("a conditional expression", span),
        Expression::LogicalExpression(_) => Node::Other("a logical expression", span),
        Expression::NewExpression(_) => Node::Other("a `new` expression", span),
        Expression::AwaitExpression(_) => Node::Other("an `await` expression", span),
        _ => Node::Other("an expression", span),
    }
}

/// A function body reduced to its single `return` expression.
fn function_body(
    statements: Option<&[Statement<'_>]>,
    span: Span,
    d: usize,
    params: Vec<String>,
) -> Node {
    let Some(statements) = statements else {
        return Node::Other("a function", span);
    };
    if let [Statement::ReturnStatement(r)] = statements
        && let Some(x) = &r.argument
    {
        return Node::Arrow(params, Box::new(expr(x, d)), span);
    }
    Node::Other("a function with statements other than one `return`", span)
}

fn argument(a: &Argument<'_>, d: usize) -> Node {
    match a {
        Argument::SpreadElement(s) => Node::Spread(Box::new(expr(&s.argument, d)), sp(s.span)),
        other => match other.as_expression() {
            Some(x) => expr(x, d),
            None => Node::Other("an argument", sp(other.span())),
        },
    }
}
