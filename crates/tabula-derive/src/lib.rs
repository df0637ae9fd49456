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
/// Struct attribute, all in one `#[table(...)]`:
/// - `name = "..."`: the table's name (default: the struct name in snake_case);
/// - `unique(a, b)`: no two rows share the values of these columns (a row with a null in
///   any of them never collides); may appear several times;
/// - `index(a, b)`: an ordered index over these columns, for equality on a prefix and a
///   range on the next one; may appear several times;
/// - `check = "<SQL condition>"`: a condition over the row that no row may make false;
///   may appear several times;
/// - `dropped("old", ...)`: stored columns the struct no longer has; opening a stored table
///   drops them with their data.
///
/// `unique` and `index` list column names (the field name, or its `name = "..."`) as
/// identifiers; the columns must not be stored as json.
///
/// Field attribute, all in one `#[column(...)]`:
/// - `primary_key`: exactly one; integer keys auto-increment when inserted as 0;
/// - `unique`: a hash index: uniqueness and equality lookups;
/// - `index`: an ordered index: ranges and ordering (combine with `unique` for both);
/// - `default = <literal>`: the value of a row that arrives without this column;
/// - `name = "..."`: the column's name, when it is not the field's;
/// - `references = "<table>"`, `on_delete = "restrict" | "cascade" | "set_null"`: a
///   foreign key to that table's primary key;
/// - `check = "<SQL condition>"`: a condition no row may make false (it may name other
///   columns too);
/// - `renamed_from = "old"`: the column was stored as `old`; opening a stored table renames
///   it, keeping its data.
///
/// `Option<T>` fields are nullable; fields of types other than the integers, `f32`, `f64`,
/// `bool` and `String` are stored as `json` (they must implement serde's `Serialize` and
/// `Deserialize`) and cannot be indexed.
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
    fn passes_table_attributes_and_column_checks_to_the_schema() {
        let out = expand(quote! {
            #[table(
                name = "enrollments",
                unique(student, course),
                index(course, grade),
                check = "first_year <= last_year",
                dropped("old_col", "other_old"),
                dropped("third_old"),
                unique(r#type)
            )]
            struct Enrollment {
                #[column(primary_key)] id: u64,
                student: u64,
                #[column(renamed_from = "course_id")] course: u64,
                grade: Option<f64>,
                #[column(check = "credits BETWEEN 1 AND 10")] credits: u8,
                first_year: u32,
                last_year: u32,
                r#type: String,
            }
        })
        .unwrap()
        .to_string();
        let out = out.split_whitespace().collect::<String>();
        for expected in [
            r#"unique:&[&["student","course"],&["type"]]"#,
            r#"index:&[&["course","grade"]]"#,
            r#"checks:&["first_year <= last_year"]"#,
            r#"renamed:&[("course_id","course")]"#,
            r#"dropped:&["old_col","other_old","third_old"]"#,
            r#"c.check=::core::option::Option::Some(::std::string::String::from("credits BETWEEN 1 AND 10"))"#,
            "c.check=::core::option::Option::None",
        ] {
            let expected = expected.split_whitespace().collect::<String>();
            assert!(out.contains(&expected), "{expected} not in {out}");
        }
    }

    #[test]
    fn empty_table_attributes_are_empty_slices() {
        let out = expand(quote! {
            struct S { #[column(primary_key)] id: u64 }
        })
        .unwrap()
        .to_string();
        let out = out.split_whitespace().collect::<String>();
        assert!(
            out.contains("unique:&[],index:&[],checks:&[],renamed:&[],dropped:&[],"),
            "{out}"
        );
    }

    #[test]
    fn refuses_bad_column_lists() {
        let e = err(quote! {
            #[table(unique(nope), unique(a, a), index(a, b), index(a, b), unique(), unique(b, a), unique(a, b), index(blob), index(id))]
            struct S {
                #[column(primary_key)] id: u64,
                a: u64,
                #[column(name = "bee")] b: u64,
                blob: Vec<u8>,
            }
        });
        assert!(
            e.contains("unknown column `nope` in unique(...); the columns are id, a, bee, blob"),
            "{e}"
        );
        assert!(e.contains("unknown column `b` in index(...)"), "{e}");
        assert!(e.contains("field `b` is column `bee`"), "{e}");
        assert!(
            e.contains("column `a` is named twice in unique(a, a)"),
            "{e}"
        );
        assert!(e.contains("`index(a, b)` is declared twice"), "{e}");
        assert!(e.contains("`unique()` names no column"), "{e}");
        assert!(e.contains("`unique(a, b)` repeats `unique(b, a)`"), "{e}");
        assert!(
            e.contains("column `blob` in index(...) is stored as json"),
            "{e}"
        );
        assert!(e.contains("`index(id)` is redundant"), "{e}");
    }

    #[test]
    fn refuses_bad_list_syntax() {
        let e = err(quote! {
            #[table(unique(a, "a"), dropped(old), index(nope))]
            struct S { #[column(primary_key)] id: u64, a: u64 }
        });
        assert!(e.contains("columns are listed as identifiers"), "{e}");
        assert!(e.contains("dropped columns are listed as strings"), "{e}");
        assert!(e.contains("unknown column `nope` in index(...)"), "{e}");
        assert!(!e.contains("unexpected token"), "{e}");
        assert!(!e.contains("unique(a)"), "{e}");
        let e = err(quote! {
            #[table(index)]
            struct S { #[column(primary_key)] id: u64, a: u64 }
        });
        assert!(e.contains("`index` takes a list: index(a, b)"), "{e}");
        let e = err(quote! {
            #[table(dropped(old))]
            struct S { #[column(primary_key)] id: u64, a: u64 }
        });
        assert!(e.contains("dropped columns are listed as strings"), "{e}");
        let e = err(quote! {
            #[table(check = 3)]
            struct S { #[column(primary_key)] id: u64, #[column(renamed_from = old)] a: u64 }
        });
        assert_eq!(e.matches("expected string literal").count(), 2, "{e}");
    }

    #[test]
    fn refuses_bad_renames_and_drops() {
        let e = err(quote! {
            #[table(dropped("a", "gone", "gone", "9x", "was_d"), dropped())]
            struct S {
                #[column(primary_key)] id: u64,
                a: u64,
                #[column(renamed_from = "a")] b: u64,
                #[column(renamed_from = "c")] c: u64,
                #[column(renamed_from = "was_d")] d: u64,
                #[column(renamed_from = "was_d")] e: u64,
                #[column(renamed_from = "bad name")] f: u64,
            }
        });
        for expected in [
            "`renamed_from = \"a\"` names column `a`, which the struct still has",
            "`renamed_from = \"c\"` is the column's own name",
            "`renamed_from = \"was_d\"` is also on column `d`",
            "invalid column name \"bad name\" in `renamed_from = \"bad name\"`",
            "`dropped(\"a\")` names column `a`, which the struct still has",
            "`dropped(\"gone\")` names column `gone` a second time",
            "invalid column name \"9x\" in `dropped(\"9x\")`: a name cannot start with a digit",
            "`dropped(\"was_d\")` names column `was_d`, which column `d` is `renamed_from`",
            "`dropped()` names no column",
        ] {
            assert!(e.contains(expected), "{expected} not in {e}");
        }
    }

    #[test]
    fn refuses_empty_checks() {
        let e = err(quote! {
            #[table(check = "", check = "a > 0")]
            struct S { #[column(primary_key)] id: u64, #[column(check = "  ", check = "a > 1")] a: u64 }
        });
        assert!(e.contains("`check = \"\"` on table `s` is empty"), "{e}");
        assert!(e.contains("`check = \"  \"` on column `a` is empty"), "{e}");
        assert!(e.contains("duplicate column attribute `check`"), "{e}");
    }

    #[test]
    fn lists_the_new_attribute_keys() {
        let e = err(quote! {
            #[table(uniqe(a))]
            struct S { #[column(primary_key, renamed)] id: u64, a: u64 }
        });
        assert!(
            e.contains("expected one of: name, unique, index, check, dropped"),
            "{e}"
        );
        assert!(e.contains("on_delete, check, renamed_from"), "{e}");
    }

    #[test]
    fn refuses_out_of_range_defaults() {
        let e = err(quote! {
            struct S { #[column(primary_key)] id: u64, #[column(default = 300)] small: u8 }
        });
        assert!(e.contains("does not fit u8"), "{e}");
    }
}
