//! `COPY t [(cols)] FROM stdin;` followed by its rows and a `\.` line: PostgreSQL's text
//! format, as `pg_dump` and [`Database::dump_sql`](crate::Database::dump_sql) write it. The
//! tokenizer hands over the rows verbatim; here they are split into fields (a tab, or the
//! `DELIMITER` given), `\N` (or the `NULL` string given) is null, backslash escapes are
//! decoded, and each field is read as its column's type. The rows go in as one statement:
//! all of them or none.

use std::sync::Arc;

use sqlparser::ast::{CopyLegacyOption, CopyOption, CopySource, CopyTarget, Spanned, Statement};

use crate::error::{Error, Result};
use crate::record::Row;
use crate::schema::{ColumnType, Schema};
use crate::sql::run::SqlResult;
use crate::sql::scalar::sql_error;
use crate::sql::target::Target;
use crate::sql::unsupported;
use crate::value::Value;

/// How the rows are written: the field delimiter and the null marker.
struct Format {
    delimiter: char,
    null: String,
}

fn format_of(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<Format> {
    let mut f = Format {
        delimiter: '\t',
        null: "\\N".to_owned(),
    };
    for o in options {
        match o {
            CopyOption::Format(name) if name.value.eq_ignore_ascii_case("text") => {}
            CopyOption::Delimiter(c) => f.delimiter = *c,
            CopyOption::Null(s) => f.null = s.clone(),
            other => return Err(unsupported(format!("the COPY option {other}"))),
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Delimiter(c) => f.delimiter = *c,
            CopyLegacyOption::Null(s) => f.null = s.clone(),
            other => return Err(unsupported(format!("the COPY option {other}"))),
        }
    }
    if f.delimiter == '\\' || f.delimiter == '\n' || f.delimiter == '\r' {
        return Err(unsupported(format!("the COPY delimiter {:?}", f.delimiter)));
    }
    Ok(f)
}

/// Runs `COPY … FROM stdin` with its rows.
pub(crate) fn copy_from_stdin(target: Target<'_, '_>, s: &Statement) -> Result<SqlResult> {
    let Statement::Copy {
        source,
        to,
        target: from,
        options,
        legacy_options,
        payload,
    } = s
    else {
        return Err(unsupported("this statement as COPY"));
    };
    if *to {
        return Err(unsupported("COPY … TO"));
    }
    if !matches!(from, CopyTarget::Stdin) {
        return Err(unsupported(format!(
            "COPY … FROM {from} (only FROM stdin, with the rows after the statement)"
        )));
    }
    let CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Err(unsupported("COPY from a query"));
    };
    let tx = target.writer()?;
    let format = format_of(options, legacy_options)?;
    let table = crate::sql::ddl::table_name(table_name)?;
    let t = tx.dyn_table(&table).map_err(|e| match e {
        Error::UnknownTable { .. } => sql_error(s.span(), target.no_table(&table)),
        e => e,
    })?;
    let schema = t.schema().clone();
    let names: Vec<String> = if columns.is_empty() {
        schema.columns.iter().map(|c| c.name.clone()).collect()
    } else {
        columns.iter().map(|c| c.value.clone()).collect()
    };
    let positions = names
        .iter()
        .map(|n| schema.column_index(n))
        .collect::<Result<Vec<_>>>()?;
    // As PostgreSQL: a column named twice would take one field and drop the other.
    if let Some((_, c)) = columns
        .iter()
        .enumerate()
        .find(|(i, c)| columns[..*i].iter().any(|d| d.value == c.value))
    {
        return Err(sql_error(
            c.span,
            format!("COPY {table}: column {} is named more than once", c.value),
        ));
    }
    let Some(payload) = payload else {
        return Ok(SqlResult::default());
    };
    if !payload.terminated {
        return Err(sql_error(
            s.span(),
            format!("the rows of COPY {table} end without a line holding only \\."),
        ));
    }
    let names: Arc<[String]> = names.into();
    let mut rows = Vec::new();
    for (n, line) in payload.data.lines().enumerate() {
        let fields = split_fields(line, &format).map_err(|bad| {
            let column = positions.get(bad.field).map_or_else(
                || format!("field {}", bad.field + 1),
                |&c| format!("column {}", schema.columns[c].name),
            );
            sql_error(
                s.span(),
                format!("COPY {table}, row {}, {column}: {}", n + 1, bad.reason),
            )
        })?;
        if fields.len() != positions.len() {
            return Err(sql_error(
                s.span(),
                format!(
                    "COPY {table}, row {}: {} fields for {} columns",
                    n + 1,
                    fields.len(),
                    positions.len()
                ),
            ));
        }
        let values = fields
            .into_iter()
            .zip(&positions)
            .map(|(f, &col)| field_value(f, &schema, col))
            .collect::<Result<Vec<_>>>()?;
        rows.push(Row::with_names(names.clone(), values));
    }
    let changed = rows.len() as u64;
    // One statement: all the rows or none.
    t.insert_many(rows)?;
    Ok(SqlResult::of_changes(changed))
}

/// Why a field is no text: which field, and the reason.
#[derive(Debug, PartialEq)]
struct BadField {
    field: usize,
    reason: String,
}

/// One field: `None` for the null marker (compared before decoding, as PostgreSQL does),
/// else its text with the escapes decoded. An octal or hex escape gives one byte (as in
/// PostgreSQL, `\303\251` is `é`), and the field's bytes must be UTF-8 without a NUL, which
/// PostgreSQL refuses too: a byte alone would be a character no one wrote.
fn split_fields(line: &str, format: &Format) -> std::result::Result<Vec<Option<String>>, BadField> {
    let mut fields = Vec::new();
    let (mut raw, mut bytes) = (String::new(), Vec::new());
    let mut chars = line.chars().peekable();
    let mut end_field = |raw: &mut String, bytes: &mut Vec<u8>| {
        let field = fields.len();
        let taken = std::mem::take(bytes);
        let value = if *raw == format.null {
            None
        } else {
            let text = String::from_utf8(taken).map_err(|e| {
                let (bytes, fault) = (e.as_bytes(), e.utf8_error());
                let good = fault.valid_up_to();
                let bad = &bytes[good..good + fault.error_len().unwrap_or(bytes.len() - good)];
                BadField {
                    field,
                    reason: format!(
                        "its escapes give bytes that are not UTF-8 text: {} after {:?}",
                        bad.iter()
                            .map(|b| format!("\\x{b:02x}"))
                            .collect::<String>(),
                        String::from_utf8_lossy(&bytes[..good])
                    ),
                }
            })?;
            if text.contains('\0') {
                return Err(BadField {
                    field,
                    reason: "a NUL character (\\0), which text may not hold (as in \
                             PostgreSQL)"
                        .to_owned(),
                });
            }
            Some(text)
        };
        fields.push(value);
        raw.clear();
        Ok(())
    };
    let push = |bytes: &mut Vec<u8>, c: char| {
        bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    };
    while let Some(c) = chars.next() {
        if c == format.delimiter {
            end_field(&mut raw, &mut bytes)?;
            continue;
        }
        raw.push(c);
        if c != '\\' {
            push(&mut bytes, c);
            continue;
        }
        let Some(e) = chars.next() else {
            // A lone backslash at the end of a line stands for itself.
            bytes.push(b'\\');
            break;
        };
        raw.push(e);
        match e {
            'b' => bytes.push(0x08),
            'f' => bytes.push(0x0c),
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'v' => bytes.push(0x0b),
            '0'..='7' => {
                let mut code = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            code = code * 8 + d;
                            raw.extend(chars.next());
                        }
                        None => break,
                    }
                }
                // `\777` is byte 0o377's low bits, as PostgreSQL reads it.
                bytes.push((code & 0xff) as u8);
            }
            'x' if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
                let mut code = 0;
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            code = code * 16 + d;
                            raw.extend(chars.next());
                        }
                        None => break,
                    }
                }
                bytes.push(code as u8);
            }
            other => push(&mut bytes, other),
        }
    }
    end_field(&mut raw, &mut bytes)?;
    Ok(fields)
}

/// A field as a value of column `col`'s type, as PostgreSQL reads its text form.
fn field_value(field: Option<String>, schema: &Schema, col: usize) -> Result<Value> {
    let Some(text) = field else {
        return Ok(Value::Null);
    };
    let ty = schema.columns[col].ty;
    // PostgreSQL's input functions skip ASCII white space around a value, not Unicode's.
    let trimmed = text.trim_matches(crate::sql::scalar::is_sqlite_space);
    let parsed = match ty {
        ColumnType::Text | ColumnType::Json => return Ok(Value::Text(text)),
        ColumnType::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => Some(Value::Bool(true)),
            "f" | "false" | "n" | "no" | "off" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        ColumnType::F32 | ColumnType::F64 => trimmed.parse::<f64>().ok().map(Value::Float),
        _ => trimmed.parse::<i64>().ok().map(Value::Int),
    };
    parsed.ok_or_else(|| schema.type_mismatch(col, Value::Text(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<Option<String>> {
        try_fields(line).unwrap()
    }

    fn try_fields(line: &str) -> std::result::Result<Vec<Option<String>>, BadField> {
        split_fields(
            line,
            &Format {
                delimiter: '\t',
                null: "\\N".to_owned(),
            },
        )
    }

    #[test]
    fn fields_are_split_and_unescaped() {
        assert_eq!(
            fields("1\t\\N\ta\\tb\\\\c\\nd\t"),
            [
                Some("1".to_owned()),
                None,
                Some("a\tb\\c\nd".to_owned()),
                Some(String::new())
            ]
        );
        assert_eq!(fields("\\101\\x42\\\t"), [Some("AB\t".to_owned())]);
        // `\\N` is the text `\N`, not null.
        assert_eq!(fields("\\\\N"), [Some("\\N".to_owned())]);
    }

    #[test]
    fn escaped_bytes_are_utf8_text_or_refused() {
        // `é` written as the two bytes of its UTF-8 form, in octal and in hex.
        assert_eq!(
            fields("caf\\303\\251\tcaf\\xc3\\xa9"),
            [Some("café".to_owned()), Some("café".to_owned())]
        );
        assert_eq!(
            try_fields("ok\tcaf\\xc3"),
            Err(BadField {
                field: 1,
                reason: "its escapes give bytes that are not UTF-8 text: \\xc3 after \"caf\""
                    .to_owned()
            })
        );
        assert_eq!(try_fields("a\\0b").map_err(|e| e.field), Err(0));
        assert_eq!(try_fields("\\xff").map_err(|e| e.field), Err(0));
        // The null marker is compared before decoding: no text, nothing refused.
        assert_eq!(fields("\\N\t\\101"), [None, Some("A".to_owned())]);
    }
}
