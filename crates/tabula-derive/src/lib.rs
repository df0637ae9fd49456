//! `#[derive(Table)]` for tabula. See the `tabula` crate for how to use it.
//!
//! The macro runs in three steps, each in its own module: `attr` parses the attributes into
//! a model, `check` validates the model (collecting every error before reporting), and
//! `generate` writes the `tabula::Table` implementation.
#![forbid(unsafe_code)]

mod attr;
mod check;
mod generate;

use proc_macro::TokenStream;

/// Derives `tabula::Table` for a struct with named fields.
///
/// Struct attribute: `#[table(name = "...")]` (default: the struct name in snake_case).
/// Field attribute, all in one `#[column(...)]`: `primary_key` (exactly one; integer keys
/// auto-increment when inserted as 0), `unique` (a hash index: uniqueness and equality
/// lookups), `index` (an ordered index: ranges and ordering; combine with `unique` for both),
/// `default = <literal>`, `name = "..."`. `Option<T>` fields are nullable; fields of types other than the integers,
/// `f32`, `f64`, `bool` and `String` are stored as `json` (they must implement serde's
/// `Serialize` and `Deserialize`) and cannot be indexed.
#[proc_macro_derive(Table, attributes(table, column))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The testable body of the derive: tokens in, tokens (or every error found) out.
fn expand(input: proc_macro2::TokenStream) -> syn::Result<proc_macro2::TokenStream> {
    let input: syn::DeriveInput = syn::parse2(input)?;
    let (model, mut errors) = attr::parse(&input)?;
    check::check(&model, &mut errors);
    errors.finish()?;
    Ok(generate::generate(&model))
}

#[cfg(test)]
mod tests {
    use super::expand;
    use quote::quote;

    fn err(tokens: proc_macro2::TokenStream) -> String {
        match expand(tokens) {
            Ok(_) => String::from("no error"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn generates_an_impl_inside_a_const_block() {
        let out = expand(quote! {
            struct Student { #[column(primary_key)] id: u64, name: String }
        })
        .unwrap()
        .to_string();
        assert!(out.starts_with("const _ : () ="), "{out}");
        assert!(out.contains(":: tabula :: Table for Student"), "{out}");
        assert!(out.contains("\"student\""), "{out}");
    }

    #[test]
    fn reports_every_error_at_once() {
        let e = err(quote! {
            struct S { #[column(unique, unique)] a: u64, #[column(bogus)] b: u64 }
        });
        assert!(e.contains("duplicate"), "{e}");
        assert!(e.contains("unknown column attribute `bogus`"), "{e}");
        assert!(e.contains("no primary key"), "{e}");
    }

    #[test]
    fn snake_cases_the_default_table_name() {
        let out = expand(quote! {
            struct CourseRegistration { #[column(primary_key)] id: u64 }
        })
        .unwrap()
        .to_string();
        assert!(out.contains("\"course_registration\""), "{out}");
    }

    #[test]
    fn refuses_out_of_range_defaults() {
        let e = err(quote! {
            struct S { #[column(primary_key)] id: u64, #[column(default = 300)] small: u8 }
        });
        assert!(e.contains("does not fit u8"), "{e}");
    }
}
