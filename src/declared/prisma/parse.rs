//! A hand-written parser for the Prisma schema language (PSL): blocks, fields, attributes and their
//! arguments, each with its byte span. It checks syntax only; what the schema means is decided in
//! `ddl`. It never panics: malformed input is a [`SyntaxError`] at a byte offset.

use pgrehearse_sql::Span;

/// A syntax error at a byte offset of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Ident,
    Str,
    Num,
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Eq,
    Question,
    At,
    AtAt,
    Dot,
    Newline,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Tok,
    span: Span,
}

fn lex(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let single = |k| Token {
            kind: k,
            span: Span::new(start, start + 1),
        };
        match b {
            b'\n' | b'\r' => {
                out.push(single(Tok::Newline));
                i += 1;
            }
            b' ' | b'\t' | 0x0c => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b',' | b':' | b'=' | b'?' | b'.' => {
                let kind = match b {
                    b'{' => Tok::LBrace,
                    b'}' => Tok::RBrace,
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b'[' => Tok::LBracket,
                    b']' => Tok::RBracket,
                    b',' => Tok::Comma,
                    b':' => Tok::Colon,
                    b'=' => Tok::Eq,
                    b'?' => Tok::Question,
                    _ => Tok::Dot,
                };
                out.push(single(kind));
                i += 1;
            }
            b'@' => {
                if bytes.get(i + 1) == Some(&b'@') {
                    out.push(Token {
                        kind: Tok::AtAt,
                        span: Span::new(i, i + 2),
                    });
                    i += 2;
                } else {
                    out.push(single(Tok::At));
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n' | b'\r') => {
                            return Err(SyntaxError {
                                offset: start,
                                message: "unterminated string literal".into(),
                            });
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                out.push(Token {
                    kind: Tok::Str,
                    span: Span::new(start, i.min(bytes.len())),
                });
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                if text.get(start..i) == Some("-") {
                    return Err(SyntaxError {
                        offset: start,
                        message: "unexpected `-`".into(),
                    });
                }
                out.push(Token {
                    kind: Tok::Num,
                    span: Span::new(start, i),
                });
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'-')
                {
                    i += 1;
                }
                out.push(Token {
                    kind: Tok::Ident,
                    span: Span::new(start, i),
                });
            }
            _ => {
                let c = text
                    .get(start..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                return Err(SyntaxError {
                    offset: start,
                    message: format!("unexpected character `{c}`"),
                });
            }
        }
    }
    Ok(out)
}

/// An argument value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string literal, unescaped.
    Str(String),
    /// A number as written.
    Num(String),
    /// A constant or a reference (`Cascade`, `true`, `USER`, a field name).
    Ident(String),
    /// `now()`, `dbgenerated("…")`, a field with arguments (`title(ops: raw("…"))`).
    Call(String, Vec<Arg>),
    Array(Vec<Value>),
    /// `{ key: value, … }` (a partial index's `where`).
    Object(Vec<(String, Value)>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The name of a constant, a reference or a call.
    pub fn name(&self) -> Option<&str> {
        match self {
            Value::Ident(s) | Value::Call(s, _) => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: Value,
    pub span: Span,
}

/// `@name(args)` or `@@name(args)`; `name` may be dotted (`db.VarChar`).
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub args: Vec<Arg>,
    pub span: Span,
}

impl Attribute {
    /// The argument called `name`, or else the first positional one when `positional`.
    pub fn arg(&self, name: &str, positional: bool) -> Option<&Value> {
        self.args
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .or_else(|| {
                positional
                    .then(|| self.args.iter().find(|a| a.name.is_none()))
                    .flatten()
            })
            .map(|a| &a.value)
    }
}

/// A field of a model, view or type, or a value of an enum (`ty` empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: String,
    /// `Unsupported("…")`: the database type.
    pub unsupported: Option<String>,
    pub optional: bool,
    pub list: bool,
    pub attrs: Vec<Attribute>,
    /// From the name to the end of the type.
    pub span: Span,
}

impl Field {
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Datasource,
    Generator,
    Model,
    View,
    Enum,
    Type,
}

/// A top-level block.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    pub name: String,
    /// From the keyword to the name.
    pub span: Span,
    pub fields: Vec<Field>,
    pub attrs: Vec<Attribute>,
    /// `key = value` lines of a datasource or generator.
    pub config: Vec<(String, Value, Span)>,
}

impl Block {
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// Values nested inside the one being parsed (calls, arrays, objects).
    depth: usize,
}

/// Values recurse per call, array and object: refuse absurd nesting before it can exhaust the stack
/// (the TypeScript front end has the same limit).
const MAX_NESTING: usize = 256;

fn unescape(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).map(|t| t.kind)
    }

    fn here(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|t| t.span.start)
            .unwrap_or(self.text.len())
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            offset: self.here(),
            message: message.into(),
        })
    }

    fn describe(&self) -> String {
        match self.toks.get(self.pos) {
            None => "the end of the file".into(),
            Some(t) if t.kind == Tok::Newline => "the end of the line".into(),
            Some(t) => format!("`{}`", t.span.slice(self.text)),
        }
    }

    fn expect(&mut self, kind: Tok, what: &str) -> Result<Span, SyntaxError> {
        match self.toks.get(self.pos) {
            Some(t) if t.kind == kind => {
                self.pos += 1;
                Ok(t.span)
            }
            _ => self.err(format!("expected {what}, found {}", self.describe())),
        }
    }

    fn eat(&mut self, kind: Tok) -> Option<Span> {
        match self.toks.get(self.pos) {
            Some(t) if t.kind == kind => {
                self.pos += 1;
                Some(t.span)
            }
            _ => None,
        }
    }

    fn skip_newlines(&mut self) {
        while self.eat(Tok::Newline).is_some() {}
    }

    fn ident(&mut self, what: &str) -> Result<(String, Span), SyntaxError> {
        let span = self.expect(Tok::Ident, what)?;
        Ok((span.slice(self.text).to_string(), span))
    }

    /// Inside parentheses or brackets, newlines are insignificant.
    fn skip_nl_inside(&mut self) {
        self.skip_newlines();
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        if self.depth >= MAX_NESTING {
            return self.err(format!(
                "values nested more than {MAX_NESTING} deep; pgrehearse refuses such a schema rather than exhaust its stack"
            ));
        }
        self.depth += 1;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self) -> Result<Value, SyntaxError> {
        self.skip_nl_inside();
        match self.peek() {
            Some(Tok::Str) => {
                let span = self.expect(Tok::Str, "a string")?;
                Ok(Value::Str(unescape(span.slice(self.text))))
            }
            Some(Tok::Num) => {
                let span = self.expect(Tok::Num, "a number")?;
                Ok(Value::Num(span.slice(self.text).to_string()))
            }
            Some(Tok::Ident) => {
                let (mut name, _) = self.ident("a name")?;
                while self.eat(Tok::Dot).is_some() {
                    let (part, _) = self.ident("a name after `.`")?;
                    name.push('.');
                    name.push_str(&part);
                }
                if self.peek() == Some(Tok::LParen) {
                    let args = self.args()?;
                    Ok(Value::Call(name, args))
                } else {
                    Ok(Value::Ident(name))
                }
            }
            Some(Tok::LBracket) => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_nl_inside();
                    if self.eat(Tok::RBracket).is_some() {
                        break;
                    }
                    items.push(self.value()?);
                    self.skip_nl_inside();
                    if self.eat(Tok::Comma).is_none() {
                        self.skip_nl_inside();
                        self.expect(Tok::RBracket, "`,` or `]`")?;
                        break;
                    }
                }
                Ok(Value::Array(items))
            }
            Some(Tok::LBrace) => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    self.skip_nl_inside();
                    if self.eat(Tok::RBrace).is_some() {
                        break;
                    }
                    let (key, _) = self.ident("a key")?;
                    self.expect(Tok::Colon, "`:`")?;
                    entries.push((key, self.value()?));
                    self.skip_nl_inside();
                    if self.eat(Tok::Comma).is_none() {
                        self.skip_nl_inside();
                        self.expect(Tok::RBrace, "`,` or `}`")?;
                        break;
                    }
                }
                Ok(Value::Object(entries))
            }
            _ => self.err(format!("expected a value, found {}", self.describe())),
        }
    }

    /// `( [name:] value, … )`
    fn args(&mut self) -> Result<Vec<Arg>, SyntaxError> {
        self.expect(Tok::LParen, "`(`")?;
        let mut args = Vec::new();
        loop {
            self.skip_nl_inside();
            if self.eat(Tok::RParen).is_some() {
                break;
            }
            let start = self.here();
            let name = if self.peek() == Some(Tok::Ident)
                && self.toks.get(self.pos + 1).map(|t| t.kind) == Some(Tok::Colon)
            {
                let (n, _) = self.ident("an argument name")?;
                self.pos += 1;
                Some(n)
            } else {
                None
            };
            let value = self.value()?;
            let end = self
                .toks
                .get(self.pos.saturating_sub(1))
                .map(|t| t.span.end)
                .unwrap_or(start);
            args.push(Arg {
                name,
                value,
                span: Span::new(start, end),
            });
            self.skip_nl_inside();
            if self.eat(Tok::Comma).is_none() {
                self.skip_nl_inside();
                self.expect(Tok::RParen, "`,` or `)`")?;
                break;
            }
        }
        Ok(args)
    }

    /// `@name[.part][(args)]` or `@@name(args)`, at the cursor.
    fn attribute(&mut self) -> Result<Attribute, SyntaxError> {
        let start = self.here();
        self.pos += 1; // @ or @@
        let (mut name, _) = self.ident("an attribute name")?;
        while self.eat(Tok::Dot).is_some() {
            let (part, _) = self.ident("a name after `.`")?;
            name.push('.');
            name.push_str(&part);
        }
        let args = if self.peek() == Some(Tok::LParen) {
            self.args()?
        } else {
            Vec::new()
        };
        let end = self
            .toks
            .get(self.pos.saturating_sub(1))
            .map(|t| t.span.end)
            .unwrap_or(start);
        Ok(Attribute {
            name,
            args,
            span: Span::new(start, end),
        })
    }

    fn end_of_line(&mut self) -> Result<(), SyntaxError> {
        match self.peek() {
            Some(Tok::Newline) => {
                self.pos += 1;
                Ok(())
            }
            Some(Tok::RBrace) | None => Ok(()),
            _ => self.err(format!(
                "expected the end of the line, found {}",
                self.describe()
            )),
        }
    }

    fn block(&mut self) -> Result<Block, SyntaxError> {
        let (keyword, kw_span) = self.ident("a block keyword")?;
        let kind = match keyword.as_str() {
            "datasource" => BlockKind::Datasource,
            "generator" => BlockKind::Generator,
            "model" => BlockKind::Model,
            "view" => BlockKind::View,
            "enum" => BlockKind::Enum,
            "type" => BlockKind::Type,
            _ => {
                self.pos -= 1;
                return self.err(format!(
                    "expected `model`, `enum`, `view`, `type`, `datasource` or `generator`, found `{keyword}`"
                ));
            }
        };
        let (name, name_span) = self.ident("a block name")?;
        let mut block = Block {
            kind,
            name,
            span: Span::new(kw_span.start, name_span.end),
            fields: Vec::new(),
            attrs: Vec::new(),
            config: Vec::new(),
        };
        self.expect(Tok::LBrace, "`{`")?;
        loop {
            self.skip_newlines();
            match self.peek() {
                None => {
                    return self.err(format!(
                        "`{keyword} {}` is not closed with `}}`",
                        block.name
                    ));
                }
                Some(Tok::RBrace) => {
                    self.pos += 1;
                    return Ok(block);
                }
                Some(Tok::AtAt)
                    if matches!(
                        kind,
                        BlockKind::Model | BlockKind::View | BlockKind::Enum | BlockKind::Type
                    ) =>
                {
                    let a = self.attribute()?;
                    block.attrs.push(a);
                    self.end_of_line()?;
                }
                Some(Tok::Ident)
                    if matches!(kind, BlockKind::Datasource | BlockKind::Generator) =>
                {
                    let (key, key_span) = self.ident("a key")?;
                    self.expect(Tok::Eq, "`=`")?;
                    let value = self.value()?;
                    let end = self
                        .toks
                        .get(self.pos.saturating_sub(1))
                        .map(|t| t.span.end)
                        .unwrap_or(key_span.end);
                    block
                        .config
                        .push((key, value, Span::new(key_span.start, end)));
                    self.end_of_line()?;
                }
                Some(Tok::Ident) => {
                    let (name, name_span) = self.ident("a field name")?;
                    let mut field = Field {
                        name,
                        ty: String::new(),
                        unsupported: None,
                        optional: false,
                        list: false,
                        attrs: Vec::new(),
                        span: name_span,
                    };
                    if kind != BlockKind::Enum {
                        let (ty, ty_span) = self.ident("a field type")?;
                        field.span.end = ty_span.end;
                        if ty == "Unsupported" {
                            let args = self.args()?;
                            match args.first().map(|a| &a.value) {
                                Some(Value::Str(s)) if args.len() == 1 => {
                                    field.unsupported = Some(s.clone())
                                }
                                _ => {
                                    return Err(SyntaxError {
                                        offset: ty_span.start,
                                        message:
                                            "`Unsupported` takes one string: the database type"
                                                .into(),
                                    });
                                }
                            }
                            field.span.end = self.toks[self.pos - 1].span.end;
                        }
                        field.ty = ty;
                        if self.peek() == Some(Tok::LBracket) {
                            self.pos += 1;
                            let close = self.expect(Tok::RBracket, "`]`")?;
                            field.list = true;
                            field.span.end = close.end;
                        }
                        if let Some(q) = self.eat(Tok::Question) {
                            field.optional = true;
                            field.span.end = q.end;
                        }
                    }
                    while self.peek() == Some(Tok::At) {
                        let a = self.attribute()?;
                        field.attrs.push(a);
                    }
                    self.end_of_line()?;
                    block.fields.push(field);
                }
                _ => {
                    return self.err(format!(
                        "expected a field, an attribute or `}}` in `{keyword} {}`, found {}",
                        block.name,
                        self.describe()
                    ));
                }
            }
        }
    }
}

/// Parses one `.prisma` file.
pub fn parse(text: &str) -> Result<Vec<Block>, SyntaxError> {
    let toks = lex(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    let mut blocks = Vec::new();
    loop {
        p.skip_newlines();
        if p.peek().is_none() {
            return Ok(blocks);
        }
        blocks.push(p.block()?);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_attributes_and_spans() {
        let text = "model User {\n  id Int @id @default(autoincrement())\n  name String? @db.VarChar(20)\n  @@index([name(sort: Desc)], type: Hash)\n}\n";
        let blocks = parse(text).unwrap();
        let m = &blocks[0];
        assert_eq!((m.kind, m.name.as_str()), (BlockKind::Model, "User"));
        assert_eq!(m.span.slice(text), "model User");
        assert_eq!(m.fields[0].attrs[1].name, "default");
        assert_eq!(m.fields[1].span.slice(text), "name String?");
        assert_eq!(m.fields[1].attrs[0].name, "db.VarChar");
        assert_eq!(
            m.attrs[0].span.slice(text),
            "@@index([name(sort: Desc)], type: Hash)"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 4_000;
        let text = format!(
            "model A {{\n  id Int @default({}1{})\n}}\n",
            "f(".repeat(depth),
            ")".repeat(depth)
        );
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("nested more than 256 deep"), "{e:?}");
        let at = text.find("f(").unwrap() + 2 * MAX_NESTING - 2;
        assert_eq!(e.offset, at + 2, "{e:?}");
        let ok = format!(
            "model A {{\n  id Int @default({}1{})\n}}\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("model A {\n  id Int @id(\n}").unwrap_err();
        assert!(e.offset > 0, "{e:?}");
        assert!(parse("model A { id Int }").is_ok());
        assert!(parse("modle A {}").is_err());
        assert!(parse("model A {\n id \"x\"\n}").is_err());
    }
}
