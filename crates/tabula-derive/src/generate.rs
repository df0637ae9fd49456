//! Code generation: the `tabula::Table` implementation, inside `const _: () = { ... };`,
//! with fully qualified paths only.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::attr::{ColumnList, Field, Kind, Model};
use crate::check::{default_value, DefaultValue};

pub(crate) fn generate(m: &Model) -> TokenStream {
    let ident = &m.ident;
    let table = &m.table;
    let p = quote!(::tabula::__private);
    let pk = m.fields.iter().find(|f| f.primary_key.is_some());
    let (key_ty, key_ident) = match pk {
        Some(f) => (&f.ty, &f.ident),
        None => return quote!(),
    };

    let columns = m.fields.iter().map(|f| column(f, &p));

    let attrs = table_attrs(m, &p);

    let column_arms = m
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind != Kind::Json)
        .map(|(i, f)| {
            let fi = &f.ident;
            quote!(#i => #p::ColumnValue::value_ref(&self.#fi),)
        });

    let checks = m.fields.iter().map(|f| {
        let fi = &f.ident;
        let name = &f.name;
        match json_to(f) {
            Some(to) => quote!(#p::#to(#table, #name, &self.#fi)?;),
            None => quote!(#p::check_field(#table, #name, &self.#fi)?;),
        }
    });

    let to_values = m.fields.iter().map(|f| {
        let fi = &f.ident;
        let name = &f.name;
        match json_to(f) {
            Some(to) => quote!(#p::#to(#table, #name, &self.#fi)?,),
            None => quote!(#p::ColumnValue::to_value(&self.#fi),),
        }
    });

    let from_values = m.fields.iter().map(|f| {
        let fi = &f.ident;
        let read = read_field(
            f,
            table,
            &p,
            quote!(values.next().unwrap_or(#p::Value::Null)),
        );
        quote!(#fi: #read,)
    });

    let set_arms = m.fields.iter().enumerate().map(|(i, f)| {
        let fi = &f.ident;
        let read = read_field(f, table, &p, quote!(value));
        quote!(#i => self.#fi = #read,)
    });

    quote! {
        const _: () = {
            impl ::tabula::Table for #ident {
                type Key = #key_ty;

                fn schema() -> &'static #p::Schema {
                    static SCHEMA: #p::OnceLock<#p::Schema> = #p::OnceLock::new();
                    SCHEMA.get_or_init(|| {
                        #p::build_schema(#table, ::std::vec![#(#columns),*], #attrs)
                    })
                }

                #[inline]
                fn column(&self, col: usize) -> #p::ValueRef<'_> {
                    match col {
                        #(#column_arms)*
                        _ => #p::ValueRef::Null,
                    }
                }

                fn set_column(&mut self, col: usize, value: #p::Value) -> #p::Result<()> {
                    match col {
                        #(#set_arms)*
                        _ => {}
                    }
                    ::core::result::Result::Ok(())
                }

                fn set_primary_key(&mut self, key: i64) {
                    #p::ColumnValue::set_key(&mut self.#key_ident, key)
                }

                fn check(&self) -> #p::Result<()> {
                    #(#checks)*
                    ::core::result::Result::Ok(())
                }

                fn to_values(&self) -> #p::Result<::std::vec::Vec<#p::Value>> {
                    ::core::result::Result::Ok(::std::vec![#(#to_values)*])
                }

                fn from_values(values: ::std::vec::Vec<#p::Value>) -> #p::Result<Self> {
                    let mut values = values.into_iter();
                    ::core::result::Result::Ok(#ident { #(#from_values)* })
                }
            }
        };
    }
}

/// The `tabula::__private::Column` a field describes, as an expression.
fn column(f: &Field, p: &TokenStream) -> TokenStream {
    let name = &f.name;
    let ty = &f.ty;
    let (col_type, nullable) = if f.kind == Kind::Json {
        let nullable = f.nullable;
        (quote!(#p::ColumnType::Json), quote!(#nullable))
    } else {
        (
            quote!(<#ty as #p::ColumnValue>::TYPE),
            quote!(<#ty as #p::ColumnValue>::NULLABLE),
        )
    };
    let primary_key = f.primary_key.is_some();
    let unique = f.unique.is_some();
    let index = f.index.is_some();
    let references = match &f.references {
        Some((table, _)) => {
            let action = match f.on_delete.as_ref().map(|(a, _)| a.as_str()) {
                Some("cascade") => quote!(#p::OnDelete::Cascade),
                Some("set_null") => quote!(#p::OnDelete::SetNull),
                _ => quote!(#p::OnDelete::Restrict),
            };
            quote!(::core::option::Option::Some(#p::ForeignKey {
                table: ::std::string::String::from(#table),
                on_delete: #action,
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let default = default_tokens(f, p);
    let check = match &f.check {
        Some((text, _)) => quote!(::core::option::Option::Some(
            ::std::string::String::from(#text)
        )),
        None => quote!(::core::option::Option::None),
    };
    quote! {{
        let mut c = #p::Column::new(#name, #col_type);
        c.nullable = #nullable;
        c.primary_key = #primary_key;
        c.unique = #unique;
        c.index = #index;
        c.default = #default;
        c.references = #references;
        c.check = #check;
        c
    }}
}

/// A field's `default = ...`, checked (see `check::default_value`), as an
/// `Option<Value>` expression.
fn default_tokens(f: &Field, p: &TokenStream) -> TokenStream {
    match default_value(f).ok().flatten() {
        None => quote!(::core::option::Option::None),
        Some(DefaultValue::Int(v)) => {
            let v = Literal::i64_suffixed(v);
            quote!(::core::option::Option::Some(#p::Value::Int(#v)))
        }
        Some(DefaultValue::Float(v)) => {
            let v = Literal::f64_suffixed(v);
            quote!(::core::option::Option::Some(#p::Value::Float(#v)))
        }
        Some(DefaultValue::Bool(v)) => {
            quote!(::core::option::Option::Some(#p::Value::Bool(#v)))
        }
        Some(DefaultValue::Text(v)) => quote!(::core::option::Option::Some(
            #p::Value::Text(::std::string::String::from(#v))
        )),
    }
}

/// The table-level attributes (composite unique and index lists, checks, renames, drops)
/// as a `tabula::__private::TableAttrs` expression.
fn table_attrs(m: &Model, p: &TokenStream) -> TokenStream {
    let lists = |lists: &[ColumnList]| {
        let lists = lists.iter().map(|l| {
            let names = l.columns.iter().map(|(n, _)| n);
            quote!(&[#(#names),*])
        });
        quote!(&[#(#lists),*])
    };
    let unique = lists(&m.unique);
    let index = lists(&m.index);
    let table_checks = m.checks.iter().map(|(t, _)| t);
    let renamed = m.fields.iter().filter_map(|f| {
        let (old, _) = f.renamed_from.as_ref()?;
        let new = &f.name;
        Some(quote!((#old, #new)))
    });
    let dropped = m.dropped.iter().map(|(d, _)| d);
    quote! {
        #p::TableAttrs {
            unique: #unique,
            index: #index,
            checks: &[#(#table_checks),*],
            renamed: &[#(#renamed),*],
            dropped: &[#(#dropped),*],
        }
    }
}

/// For a json field, the `tabula::__private` function that makes its value (checking
/// it); `None` for a field of a column type.
fn json_to(f: &Field) -> Option<TokenStream> {
    match (&f.kind, f.nullable) {
        (Kind::Json, true) => Some(quote!(json_opt_to_value)),
        (Kind::Json, false) => Some(quote!(json_to_value)),
        _ => None,
    }
}

/// The expression reading field `f` of `table` from `value` (a `Value` expression), with
/// `?` for its error.
fn read_field(f: &Field, table: &str, p: &TokenStream, value: TokenStream) -> TokenStream {
    let name = &f.name;
    let ty = &f.ty;
    match (&f.kind, f.nullable) {
        (Kind::Json, true) => quote!(#p::json_opt_from_value(#table, #name, #value)?),
        (Kind::Json, false) => quote!(#p::json_from_value::<#ty>(#table, #name, #value)?),
        _ => quote!(#p::field::<#ty>(#table, #name, #value)?),
    }
}
