//! How a name is written in SQL text: quoted when SQLite or PostgreSQL would read it as
//! something else. Used by the dump and by the text of a check that a rename rewrites.

/// Words that SQLite or PostgreSQL keep for themselves (SQLite's keywords, PostgreSQL's
/// reserved words and the non-reserved ones that cannot name a type or function), sorted:
/// an identifier that is one of them is quoted.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "ABORT", "ACTION", "ADD", "AFTER", "ALL", "ALTER", "ALWAYS", "ANALYSE", "ANALYZE", "AND",
    "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC", "ATTACH", "AUTHORIZATION", "AUTOINCREMENT",
    "BEFORE", "BEGIN", "BETWEEN", "BIGINT", "BINARY", "BIT", "BOOLEAN", "BOTH", "BY", "CASCADE",
    "CASE", "CAST", "CHAR", "CHARACTER", "CHECK", "COALESCE", "COLLATE", "COLLATION", "COLUMN",
    "COMMIT", "CONCURRENTLY", "CONFLICT", "CONSTRAINT", "CREATE", "CROSS", "CURRENT",
    "CURRENT_CATALOG", "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_SCHEMA", "CURRENT_TIME",
    "CURRENT_TIMESTAMP", "CURRENT_USER", "DATABASE", "DEC", "DECIMAL", "DEFAULT", "DEFERRABLE",
    "DEFERRED", "DELETE", "DESC", "DETACH", "DISTINCT", "DO", "DROP", "EACH", "ELSE", "END",
    "ESCAPE", "EXCEPT", "EXCLUDE", "EXCLUSIVE", "EXISTS", "EXPLAIN", "EXTRACT", "FAIL", "FALSE",
    "FETCH", "FILTER", "FIRST", "FLOAT", "FOLLOWING", "FOR", "FOREIGN", "FREEZE", "FROM", "FULL",
    "GENERATED", "GLOB", "GRANT", "GREATEST", "GROUP", "GROUPING", "GROUPS", "HAVING", "IF",
    "IGNORE", "ILIKE", "IMMEDIATE", "IN", "INDEX", "INDEXED", "INITIALLY", "INNER", "INOUT",
    "INSERT", "INSTEAD", "INT", "INTEGER", "INTERSECT", "INTERVAL", "INTO", "IS", "ISNULL",
    "JOIN", "KEY", "LAST", "LATERAL", "LEADING", "LEAST", "LEFT", "LIKE", "LIMIT", "LOCALTIME",
    "LOCALTIMESTAMP", "MATCH", "MATERIALIZED", "NATIONAL", "NATURAL", "NCHAR", "NO", "NONE",
    "NORMALIZE", "NOT", "NOTHING", "NOTNULL", "NULL", "NULLIF", "NULLS", "NUMERIC", "OF",
    "OFFSET", "ON", "ONLY", "OR", "ORDER", "OTHERS", "OUT", "OUTER", "OVER", "OVERLAPS",
    "OVERLAY", "PARTITION", "PLACING", "PLAN", "POSITION", "PRAGMA", "PRECEDING", "PRECISION",
    "PRIMARY", "QUERY", "RAISE", "RANGE", "REAL", "RECURSIVE", "REFERENCES", "REGEXP", "REINDEX",
    "RELEASE", "RENAME", "REPLACE", "RESTRICT", "RETURNING", "RIGHT", "ROLLBACK", "ROW", "ROWS",
    "SAVEPOINT", "SELECT", "SESSION_USER", "SET", "SETOF", "SIMILAR", "SMALLINT", "SOME",
    "SUBSTRING", "SYMMETRIC", "SYSTEM_USER", "TABLE", "TABLESAMPLE", "TEMP", "TEMPORARY", "THEN",
    "TIES", "TIME", "TIMESTAMP", "TO", "TRAILING", "TRANSACTION", "TREAT", "TRIGGER", "TRIM",
    "TRUE", "UNBOUNDED", "UNION", "UNIQUE", "UPDATE", "USER", "USING", "VACUUM", "VALUES",
    "VARCHAR", "VARIADIC", "VERBOSE", "VIEW", "VIRTUAL", "WHEN", "WHERE", "WINDOW", "WITH",
    "WITHOUT",
];

/// A name as SQL text: quoted (`"` doubled inside) unless it is lower-case ASCII letters,
/// digits and `_`, not starting with a digit, and no keyword of either dialect (PostgreSQL
/// folds an unquoted name to lower case).
pub(crate) fn ident(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && KEYWORDS
            .binary_search(&name.to_ascii_uppercase().as_str())
            .is_err();
    if plain {
        name.to_owned()
    } else {
        quoted(name)
    }
}

/// A name quoted, whatever it is: `"a""b"` for `a"b`.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(ident("students"), "students");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("firstName"), "\"firstName\"");
        assert_eq!(ident("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(ident("id"), "id");
        assert!(
            KEYWORDS.windows(2).all(|w| w[0] < w[1]),
            "sorted, for binary_search"
        );
    }
}
