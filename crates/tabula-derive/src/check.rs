//! Validation of the model: everything the schema needs is decided here, at compile time,
//! so that the generated schema is always valid.

use proc_macro2::Span;
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

use crate::attr::{ColumnList, Errors, Field, Kind, Model};

/// Said where a field stored as json is refused and its type is a bare name (`Id`, or
/// `Option<Id>`), which may be an alias: the derive knows a type by how it is written, so
/// an alias of an integer (`type Id = u64`) is not one to it.
fn alias_hint(f: &Field) -> &'static str {
    fn bare_name(ty: &syn::Type) -> Option<&syn::PathSegment> {
        match ty {
            syn::Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                p.path.segments.first()
            }
            _ => None,
        }
    }
    let mut seg = bare_name(&f.ty);
    if let Some(s) = seg.filter(|s| s.ident == "Option") {
        seg = match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => match a.args.first() {
                Some(syn::GenericArgument::Type(inner)) => bare_name(inner),
                _ => None,
            },
            _ => None,
        };
    }
    match seg {
        Some(s) if f.kind == Kind::Json && s.arguments.is_none() => {
            "; a field's type is read as written, so a type alias (`type Id = u64`) is stored \
             as json: write the type itself"
        }
        _ => "",
    }
}

/// A default literal, checked against its column type.
#[derive(Debug, Clone)]
pub(crate) enum DefaultValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

fn valid_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("a name cannot be empty")
    } else if name.len() > 64 {
        Err("a name has at most 64 characters")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Err("a name holds only ASCII letters, digits and '_'")
    } else if name.as_bytes()[0].is_ascii_digit() {
        Err("a name cannot start with a digit")
    } else {
        Ok(())
    }
}

fn int_range(name: &str) -> (i128, i128) {
    match name {
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" => (i64::MIN.into(), i64::MAX.into()),
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        _ => (0, i64::MAX.into()),
    }
}

/// Reads a literal, possibly negated: `3`, `-1`, `2.5`, `"x"`, `true`.
fn literal(expr: &Expr) -> Option<(bool, &Lit)> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some((false, lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((true, lit)),
            _ => None,
        },
        Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

/// Checks a field's default against its type.
pub(crate) fn default_value(f: &Field) -> syn::Result<Option<DefaultValue>> {
    let Some(d) = &f.default else { return Ok(None) };
    let err = |msg: String| syn::Error::new_spanned(&d.expr, msg);
    let type_name = quote::ToTokens::to_token_stream(&f.ty).to_string();
    match &f.kind {
        Kind::Int(_) | Kind::Float(_) | Kind::Bool | Kind::Text => {}
        Kind::Json | Kind::Unsupported(_) | Kind::NestedOption => {
            return Err(err(
                "a default is only supported on integer, float, bool and String columns".into(),
            ))
        }
    }
    let Some((neg, lit)) = literal(&d.expr) else {
        return Err(err(
            "default must be a literal (`0`, `-1`, `2.5`, `\"text\"`, `true`)".into(),
        ));
    };
    let value = match (&f.kind, lit, neg) {
        (Kind::Int(name), Lit::Int(i), neg) => {
            let v: i128 = i.base10_parse()?;
            let v = if neg { -v } else { v };
            let (lo, hi) = int_range(name);
            if v < lo || v > hi {
                // tabula keeps every integer as an i64: a u64 column stops at i64::MAX.
                let cap = if name == "u64" && v > hi {
                    " (tabula stores integers as i64: a u64 column holds at most i64::MAX)"
                } else {
                    ""
                };
                return Err(err(format!("default {v} does not fit {name}{cap}")));
            }
            DefaultValue::Int(v as i64)
        }
        (Kind::Float(name), Lit::Float(x), neg) => {
            let v: f64 = x.base10_parse()?;
            let v = if neg { -v } else { v };
            // As the library takes a float into a column: an f32 rounds to the nearest f32,
            // but must not overflow it.
            let fits = v.is_finite() && (name == "f64" || (v as f32).is_finite());
            if !fits {
                let sign = if neg { "-" } else { "" };
                return Err(err(format!(
                    "default {sign}{x} does not fit {name} (not a finite {name})"
                )));
            }
            DefaultValue::Float(v)
        }
        (Kind::Float(name), Lit::Int(i), neg) => {
            // As the library takes an integer into a float column: only one it holds
            // exactly (up to 2^24 for f32, 2^53 for f64), never rounded.
            let v: i128 = i.base10_parse()?;
            let v = if neg { -v } else { v };
            let exact: i128 = if name == "f32" { 1 << 24 } else { 1 << 53 };
            if v.abs() > exact {
                return Err(err(format!(
                    "default {v} has no exact {name} value (integers up to ±{exact} have one)"
                )));
            }
            DefaultValue::Float(v as f64)
        }
        (Kind::Bool, Lit::Bool(b), false) => DefaultValue::Bool(b.value),
        (Kind::Text, Lit::Str(s), false) => DefaultValue::Text(s.value()),
        _ => {
            return Err(err(format!(
                "this default literal does not fit the column type `{type_name}`"
            )))
        }
    };
    Ok(Some(value))
}

pub(crate) fn check(model: &Model, errors: &mut Errors) {
    if let Err(reason) = valid_name(&model.table) {
        errors.push(syn::Error::new(
            model.table_span,
            format!("invalid table name {:?}: {reason}", model.table),
        ));
    }
    let keys: Vec<&Field> = model
        .fields
        .iter()
        .filter(|f| f.primary_key.is_some())
        .collect();
    if keys.is_empty() {
        errors.push(syn::Error::new(
            model.ident.span(),
            "no primary key: mark exactly one field #[column(primary_key)]",
        ));
    }
    for extra in keys.iter().skip(1) {
        let span = extra.primary_key.unwrap_or_else(Span::call_site);
        errors.push(syn::Error::new(
            span,
            format!(
                "a second primary key: `{}` is already the primary key; a table has exactly one",
                keys[0].name
            ),
        ));
    }
    for (i, f) in model.fields.iter().enumerate() {
        if let Err(reason) = valid_name(&f.name) {
            errors.push(syn::Error::new(
                f.name_span,
                format!("invalid column name {:?}: {reason}", f.name),
            ));
        }
        if model.fields[..i].iter().any(|o| o.name == f.name) {
            errors.push(syn::Error::new(
                f.name_span,
                format!("column `{}` appears twice", f.name),
            ));
        }
        if f.kind == Kind::NestedOption {
            errors.push(syn::Error::new_spanned(
                &f.ty,
                "Option<Option<T>> cannot be stored: a column has one NULL, so Some(None) would \
                 read back as None; use Option<T>, or a type of your own (stored as json) that \
                 tells the two apart",
            ));
        }
        if let Kind::Unsupported(name) = &f.kind {
            let suggest = if name == "usize" { "u64" } else { "i64" };
            errors.push(syn::Error::new_spanned(
                &f.ty,
                format!(
                    "{name} is not supported: its width depends on the platform; use {suggest}"
                ),
            ));
        }
        if let Some(span) = f.primary_key {
            if f.nullable {
                errors.push(syn::Error::new(span, "a primary key cannot be an Option"));
            } else if !matches!(f.kind, Kind::Int(_) | Kind::Text) {
                let alias = alias_hint(f);
                errors.push(syn::Error::new(
                    span,
                    format!("a primary key must be an integer (auto-increment) or a String{alias}"),
                ));
            }
            for (flag, name) in [(f.unique, "unique"), (f.index, "index")] {
                if let Some(s) = flag {
                    errors.push(syn::Error::new(
                        s,
                        format!(
                            "`{name}` is redundant on the primary key, which is unique and indexed"
                        ),
                    ));
                }
            }
        }
        for (flag, name) in [(f.unique, "unique"), (f.index, "index")] {
            if let Some(s) = flag {
                if !f.kind.indexable() {
                    errors.push(syn::Error::new(
                        s,
                        format!(
                            "`{name}` needs an indexable column type (integer, float, bool or String); this field is stored as json{}",
                            alias_hint(f)
                        ),
                    ));
                }
            }
        }

        if let Err(e) = default_value(f) {
            errors.push(e);
        }
        if let Some((table, span)) = &f.references {
            if let Err(reason) = valid_name(table) {
                errors.push(syn::Error::new(
                    *span,
                    format!("invalid table name {table:?}: {reason}"),
                ));
            }
            if !matches!(f.kind, Kind::Int(_) | Kind::Text) {
                errors.push(syn::Error::new(
                    *span,
                    "a foreign key must be an integer or String column, like the key it references",
                ));
            }
        }
        if let Some((action, span)) = &f.on_delete {
            match action.as_str() {
                "restrict" | "cascade" => {}
                "set_null" if !f.nullable => errors.push(syn::Error::new(
                    *span,
                    "on_delete = \"set_null\" needs a nullable column: make the field an Option",
                )),
                "set_null" => {}
                other => errors.push(syn::Error::new(
                    *span,
                    format!("unknown on_delete action {other:?}; expected one of: restrict, cascade, set_null"),
                )),
            }
            if f.references.is_none() {
                errors.push(syn::Error::new(
                    *span,
                    "on_delete needs references = \"<table>\" on the same column",
                ));
            }
        }
        if let Some((text, span)) = &f.check {
            if text.trim().is_empty() {
                errors.push(syn::Error::new(
                    *span,
                    format!(
                        "`check = {text:?}` on column `{}` is empty; write the SQL condition every row must meet",
                        f.name
                    ),
                ));
            }
        }
    }
    for (text, span) in &model.checks {
        if text.trim().is_empty() {
            errors.push(syn::Error::new(
                *span,
                format!(
                    "`check = {text:?}` on table `{}` is empty; write the SQL condition every row must meet",
                    model.table
                ),
            ));
        }
    }
    check_lists(model, errors);
    check_evolution(model, errors);
}

/// The field's name as written, without `r#`.
fn field_name(f: &Field) -> String {
    let raw = f.ident.to_string();
    raw.strip_prefix("r#").unwrap_or(&raw).to_owned()
}

/// Two lists declare the same constraint: the same columns in the same order, or, for
/// `unique`, in any order.
fn same_constraint(a: &ColumnList, b: &ColumnList) -> bool {
    let names = |l: &ColumnList| l.columns.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (mut x, mut y) = (names(a), names(b));
    if a.kind == "unique" {
        x.sort();
        y.sort();
    }
    a.kind == b.kind && x == y
}

/// `unique(...)` and `index(...)` of `#[table(...)]`.
fn check_lists(model: &Model, errors: &mut Errors) {
    let all: Vec<&str> = model.fields.iter().map(|f| f.name.as_str()).collect();
    let mut seen: Vec<&ColumnList> = Vec::new();
    for list in model.unique.iter().chain(&model.index) {
        let kind = list.kind;
        if list.columns.is_empty() {
            errors.push(syn::Error::new_spanned(
                &list.tokens,
                format!("`{kind}()` names no column; list the columns: {kind}(a, b)"),
            ));
            continue;
        }
        for (i, (name, span)) in list.columns.iter().enumerate() {
            let Some(f) = model.fields.iter().find(|f| &f.name == name) else {
                let mut msg = format!(
                    "unknown column `{name}` in {kind}(...); the columns are {}",
                    all.join(", ")
                );
                if let Some(f) = model.fields.iter().find(|f| field_name(f) == *name) {
                    msg.push_str(&format!(
                        " (field `{name}` is column `{}`, from its #[column(name = ...)])",
                        f.name
                    ));
                }
                errors.push(syn::Error::new(*span, msg));
                continue;
            };
            if list.columns[..i].iter().any(|(n, _)| n == name) {
                errors.push(syn::Error::new(
                    *span,
                    format!("column `{name}` is named twice in {}", list.describe()),
                ));
            }
            if f.kind == Kind::Json {
                errors.push(syn::Error::new(
                    *span,
                    format!(
                        "column `{name}` in {kind}(...) is stored as json, which cannot be indexed; {kind}(...) needs integer, float, bool or String columns{}",
                        alias_hint(f)
                    ),
                ));
            }
        }
        if let [(name, _)] = list.columns.as_slice() {
            if let Some(f) = model.fields.iter().find(|f| &f.name == name) {
                let flag = if kind == "unique" { f.unique } else { f.index };
                if f.primary_key.is_some() {
                    errors.push(syn::Error::new_spanned(
                        &list.tokens,
                        format!(
                            "`{kind}({name})` is redundant: `{name}` is the primary key, which is unique and indexed"
                        ),
                    ));
                } else if flag.is_some() {
                    errors.push(syn::Error::new_spanned(
                        &list.tokens,
                        format!(
                            "`{kind}({name})` repeats #[column({kind})] on column `{name}`; keep one of them"
                        ),
                    ));
                }
            }
        }
        if let Some(prev) = seen.iter().find(|p| same_constraint(p, list)) {
            let (this, first) = (list.describe(), prev.describe());
            let msg = if this == first {
                format!("`{this}` is declared twice")
            } else {
                format!(
                    "`{this}` repeats `{first}`: a unique constraint over the same columns, in any order, is the same constraint"
                )
            };
            errors.push(syn::Error::new_spanned(&list.tokens, msg));
        }
        seen.push(list);
    }
}

/// `#[column(renamed_from = "...")]` and `#[table(dropped(...))]`: names of stored columns
/// the struct no longer has.
fn check_evolution(model: &Model, errors: &mut Errors) {
    let live = |name: &str| model.fields.iter().any(|f| f.name == name);
    for (i, f) in model.fields.iter().enumerate() {
        let Some((old, span)) = &f.renamed_from else {
            continue;
        };
        let attr = format!("renamed_from = {old:?}");
        let msg = if let Err(reason) = valid_name(old) {
            format!("invalid column name {old:?} in `{attr}`: {reason}")
        } else if *old == f.name {
            format!(
                "`{attr}` is the column's own name; a rename's old name must differ from its new one"
            )
        } else if live(old) {
            format!(
                "`{attr}` names column `{old}`, which the struct still has; a rename's old name must be gone from the struct"
            )
        } else if let Some(o) = model.fields[..i]
            .iter()
            .find(|o| o.renamed_from.as_ref().is_some_and(|(n, _)| n == old))
        {
            format!(
                "`{attr}` is also on column `{}`; two columns cannot both be renamed from `{old}`",
                o.name
            )
        } else {
            continue;
        };
        errors.push(syn::Error::new(*span, msg));
    }
    for (i, (old, span)) in model.dropped.iter().enumerate() {
        let attr = format!("dropped({old:?})");
        let msg = if let Err(reason) = valid_name(old) {
            format!("invalid column name {old:?} in `{attr}`: {reason}")
        } else if live(old) {
            format!(
                "`{attr}` names column `{old}`, which the struct still has; a dropped column must be gone from the struct"
            )
        } else if let Some(f) = model
            .fields
            .iter()
            .find(|f| f.renamed_from.as_ref().is_some_and(|(n, _)| n == old))
        {
            format!(
                "`{attr}` names column `{old}`, which column `{}` is `renamed_from`; a stored column is either renamed or dropped, not both",
                f.name
            )
        } else if model.dropped[..i].iter().any(|(n, _)| n == old) {
            format!("`{attr}` names column `{old}` a second time")
        } else {
            continue;
        };
        errors.push(syn::Error::new(*span, msg));
    }
    for tokens in &model.empty_dropped {
        errors.push(syn::Error::new_spanned(
            tokens,
            "`dropped()` names no column; list the stored columns the table drops: dropped(\"old\")",
        ));
    }
}
