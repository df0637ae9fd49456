//! Parsing: from the struct and its attributes to a model of the table.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Expr, Fields, GenericArgument, Ident, LitStr, PathArguments, Token, Type,
};

/// How a field's Rust type is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An integer type, by name (`u8`, `i64`, ...).
    Int(String),
    /// `f32` or `f64`, by name.
    Float(String),
    /// `bool`.
    Bool,
    /// `String`.
    Text,
    /// Any other type, stored as JSON text.
    Json,
    /// `usize` / `isize`: refused, their width depends on the platform.
    Unsupported(String),
    /// `Option<Option<T>>`: refused, a column has one NULL for `None` and `Some(None)`.
    NestedOption,
}

impl Kind {
    pub(crate) fn indexable(&self) -> bool {
        !matches!(self, Kind::Json | Kind::Unsupported(_) | Kind::NestedOption)
    }
}

/// A parsed `default = ...` value.
#[derive(Debug, Clone)]
pub(crate) struct Default {
    pub(crate) expr: Expr,
}

/// One field with its `#[column(...)]` settings.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// The column's name (the field name, or `name = "..."`), with the span to report at.
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) kind: Kind,
    pub(crate) nullable: bool,
    pub(crate) primary_key: Option<Span>,
    pub(crate) unique: Option<Span>,
    pub(crate) index: Option<Span>,
    pub(crate) default: Option<Default>,
    /// `references = "<table>"`, with its span.
    pub(crate) references: Option<(String, Span)>,
    /// `on_delete = "restrict" | "cascade" | "set_null"`, with its span.
    pub(crate) on_delete: Option<(String, Span)>,
    /// `check = "<condition>"`, with its span.
    pub(crate) check: Option<(String, Span)>,
    /// `renamed_from = "<old name>"`, with its span.
    pub(crate) renamed_from: Option<(String, Span)>,
}

/// A `unique(a, b)` or `index(a, b)` of `#[table(...)]`.
#[derive(Debug, Clone)]
pub(crate) struct ColumnList {
    /// `"unique"` or `"index"`.
    pub(crate) kind: &'static str,
    /// The column names as written (`r#` removed), each with its span.
    pub(crate) columns: Vec<(String, Span)>,
    /// `unique(a, b)` as written, to report an error over all of it.
    pub(crate) tokens: TokenStream,
}

impl ColumnList {
    /// `unique(a, b)`.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        format!("{}({})", self.kind, names.join(", "))
    }
}

/// The whole table.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) ident: Ident,
    pub(crate) table: String,
    pub(crate) table_span: Span,
    pub(crate) fields: Vec<Field>,
    /// Each `unique(...)` of `#[table(...)]`, in order.
    pub(crate) unique: Vec<ColumnList>,
    /// Each `index(...)` of `#[table(...)]`, in order.
    pub(crate) index: Vec<ColumnList>,
    /// Each table-level `check = "..."`, with its span.
    pub(crate) checks: Vec<(String, Span)>,
    /// Each name of every `dropped("...")`, with its span.
    pub(crate) dropped: Vec<(String, Span)>,
    /// Each empty `dropped()`, to report it.
    pub(crate) empty_dropped: Vec<TokenStream>,
}

const TABLE_KEYS: &str = "name, unique, index, check, dropped";
const COLUMN_KEYS: &str =
    "primary_key, unique, index, default, name, references, on_delete, check, renamed_from";

/// Parses the parenthesized list after `key` (`unique(a, b)`, `dropped("x")`); returns the
/// items and the tokens of the whole `key(...)`, to report at. An error inside the list
/// is collected, and the list skipped, so that the rest of the attribute is still read.
fn parse_list<T>(
    meta: &ParseNestedMeta<'_>,
    example: &str,
    item: fn(ParseStream<'_>) -> syn::Result<T>,
    errors: &mut Errors,
) -> syn::Result<Option<(Vec<T>, TokenStream)>> {
    let path = &meta.path;
    let key = path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!("`{key}` takes a list: {example}")));
    }
    let content;
    let paren = syn::parenthesized!(content in meta.input);
    let items = match Punctuated::<T, Token![,]>::parse_terminated_with(&content, item) {
        Ok(items) => items,
        Err(e) => {
            errors.push(e);
            // Consume the rest, or syn reports it again as an unexpected token.
            let _: TokenStream = content.parse()?;
            return Ok(None);
        }
    };
    let mut group = Group::new(Delimiter::Parenthesis, TokenStream::new());
    group.set_span(paren.span.join());
    Ok(Some((items.into_iter().collect(), quote!(#path #group))))
}

/// One column of `unique(...)` / `index(...)`: an identifier (keywords allowed).
fn list_column(input: ParseStream<'_>) -> syn::Result<(String, Span)> {
    if input.peek(LitStr) {
        return Err(input
            .error("columns are listed as identifiers, not strings: unique(a, b), index(a, b)"));
    }
    let ident = Ident::parse_any(input)?;
    let raw = ident.to_string();
    Ok((
        raw.strip_prefix("r#").unwrap_or(&raw).to_owned(),
        ident.span(),
    ))
}

/// One name of `dropped(...)`: a string literal.
fn dropped_name(input: ParseStream<'_>) -> syn::Result<(String, Span)> {
    if input.peek(Ident::peek_any) {
        return Err(input.error(
            "dropped columns are listed as strings, since the struct no longer has them: dropped(\"old\")",
        ));
    }
    let lit: LitStr = input.parse()?;
    Ok((lit.value(), lit.span()))
}

/// Collects errors so that every one is reported, not only the first.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Classifies a type: `Option<T>` is nullable `T`; the rest by the last path segment.
fn classify(ty: &Type) -> (Kind, bool) {
    if let Some(inner) = option_inner(ty) {
        if option_inner(inner).is_some() {
            return (Kind::NestedOption, true);
        }
        return (classify(inner).0, true);
    }
    let Type::Path(p) = ty else {
        return (Kind::Json, false);
    };
    if p.qself.is_some() {
        return (Kind::Json, false);
    }
    let Some(last) = p.path.segments.last() else {
        return (Kind::Json, false);
    };
    if !matches!(last.arguments, PathArguments::None) {
        return (Kind::Json, false);
    }
    let name = last.ident.to_string();
    let kind = match name.as_str() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => Kind::Int(name),
        "f32" | "f64" => Kind::Float(name),
        "bool" => Kind::Bool,
        "String" => Kind::Text,
        "usize" | "isize" => Kind::Unsupported(name),
        _ => Kind::Json,
    };
    (kind, false)
}

fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

fn set_flag(slot: &mut Option<Span>, path: &syn::Path, errors: &mut Errors) {
    if slot.is_some() {
        let name = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        errors.push(syn::Error::new_spanned(
            path,
            format!("duplicate column attribute `{name}`"),
        ));
    } else {
        *slot = Some(path.span());
    }
}

/// Parses the struct; attribute errors are collected in the returned `Errors` so that the
/// checks still run and every problem is reported together.
pub(crate) fn parse(input: &DeriveInput) -> syn::Result<(Model, Errors)> {
    let mut errors = Errors::default();
    let ident = input.ident.clone();
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Table)] does not support generic structs",
        ));
    }
    let mut table: Option<(String, Span)> = None;
    let mut unique = Vec::new();
    let mut index = Vec::new();
    let mut checks = Vec::new();
    let mut dropped = Vec::new();
    let mut empty_dropped = Vec::new();
    for attr in &input.attrs {
        if attr.path().is_ident("column") {
            errors.push(syn::Error::new_spanned(
                attr,
                "#[column(...)] belongs on a field; on the struct use #[table(name = \"...\")]",
            ));
        }
        if !attr.path().is_ident("table") {
            continue;
        }
        let r = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                if table.is_some() {
                    return Err(meta.error("duplicate table attribute `name`"));
                }
                table = Some((lit.value(), lit.span()));
                Ok(())
            } else if meta.path.is_ident("unique") || meta.path.is_ident("index") {
                let kind = if meta.path.is_ident("unique") {
                    "unique"
                } else {
                    "index"
                };
                let example = format!("{kind}(a, b)");
                let Some((columns, tokens)) =
                    parse_list(&meta, &example, list_column, &mut errors)?
                else {
                    return Ok(());
                };
                let list = ColumnList {
                    kind,
                    columns,
                    tokens,
                };
                if kind == "unique" {
                    unique.push(list);
                } else {
                    index.push(list);
                }
                Ok(())
            } else if meta.path.is_ident("check") {
                let lit: LitStr = meta.value()?.parse()?;
                checks.push((lit.value(), lit.span()));
                Ok(())
            } else if meta.path.is_ident("dropped") {
                let Some((names, tokens)) =
                    parse_list(&meta, "dropped(\"old\")", dropped_name, &mut errors)?
                else {
                    return Ok(());
                };
                if names.is_empty() {
                    empty_dropped.push(tokens);
                }
                dropped.extend(names);
                Ok(())
            } else {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                Err(meta.error(format!(
                    "unknown table attribute `{key}`; expected one of: {TABLE_KEYS}"
                )))
            }
        });
        if let Err(e) = r {
            errors.push(e);
        }
    }
    let (table, table_span) =
        table.unwrap_or_else(|| (snake_case(&ident.to_string()), ident.span()));

    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(&n.named),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        errors.push(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Table)] needs a struct with named fields",
        ));
        errors.finish()?;
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Table)] needs named fields",
        ));
    };

    let mut fields = Vec::new();
    for f in named {
        let Some(fident) = f.ident.clone() else {
            continue;
        };
        let (kind, nullable) = classify(&f.ty);
        let raw = fident.to_string();
        let mut field = Field {
            name: raw.strip_prefix("r#").unwrap_or(&raw).to_owned(),
            name_span: fident.span(),
            ident: fident,
            ty: f.ty.clone(),
            kind,
            nullable,
            primary_key: None,
            unique: None,
            index: None,
            default: None,
            references: None,
            on_delete: None,
            check: None,
            renamed_from: None,
        };
        let mut renamed = false;
        for attr in &f.attrs {
            if attr.path().is_ident("table") {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "#[table(...)] belongs on the struct; on a field use #[column(...)]",
                ));
                continue;
            }
            if !attr.path().is_ident("column") {
                continue;
            }
            let r = attr.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("primary_key") {
                    set_flag(&mut field.primary_key, p, &mut errors);
                } else if p.is_ident("unique") {
                    set_flag(&mut field.unique, p, &mut errors);
                } else if p.is_ident("index") {
                    set_flag(&mut field.index, p, &mut errors);
                } else if p.is_ident("default") {
                    let expr: Expr = meta.value()?.parse()?;
                    if field.default.is_some() {
                        errors.push(syn::Error::new_spanned(
                            p,
                            "duplicate column attribute `default`",
                        ));
                    } else {
                        field.default = Some(Default { expr });
                    }
                } else if ["references", "on_delete", "check", "renamed_from"]
                    .iter()
                    .any(|k| p.is_ident(k))
                {
                    let lit: LitStr = meta.value()?.parse()?;
                    let slot = if p.is_ident("references") {
                        &mut field.references
                    } else if p.is_ident("on_delete") {
                        &mut field.on_delete
                    } else if p.is_ident("check") {
                        &mut field.check
                    } else {
                        &mut field.renamed_from
                    };
                    if slot.is_some() {
                        let key = p.get_ident().map(ToString::to_string).unwrap_or_default();
                        errors.push(syn::Error::new_spanned(
                            p,
                            format!("duplicate column attribute `{key}`"),
                        ));
                    } else {
                        *slot = Some((lit.value(), lit.span()));
                    }
                } else if p.is_ident("name") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if renamed {
                        errors.push(syn::Error::new_spanned(
                            p,
                            "duplicate column attribute `name`",
                        ));
                    } else {
                        renamed = true;
                        field.name = lit.value();
                        field.name_span = lit.span();
                    }
                } else {
                    let key = p.get_ident().map(ToString::to_string).unwrap_or_default();
                    return Err(meta.error(format!(
                        "unknown column attribute `{key}`; expected one of: {COLUMN_KEYS}"
                    )));
                }
                Ok(())
            });
            if let Err(e) = r {
                errors.push(e);
            }
        }
        fields.push(field);
    }
    Ok((
        Model {
            ident,
            table,
            table_span,
            fields,
            unique,
            index,
            checks,
            dropped,
            empty_dropped,
        },
        errors,
    ))
}
