//! The names a query's expressions see: its tables' columns, the items' aliases, and the
//! columns of the queries around a correlated subquery.

use sqlparser::ast::{Expr, Query, SelectItem};

use crate::error::Result;
use crate::sql::compound::CteRows;
use crate::sql::from::Tables;
use crate::sql::scalar::Scope;
use crate::sql::select::select_each;
use crate::sql::target::Target;
use crate::value::Value;

/// The tables of FROM, with the items' aliases standing for their expressions where a
/// name is not a column (SQLite lets WHERE, HAVING and ORDER BY name them).
pub(super) struct WithAliases<'a> {
    pub(super) tables: &'a dyn Scope,
    pub(super) items: &'a [SelectItem],
}

impl Scope for WithAliases<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        self.tables.resolve(qualifier, name)
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        self.tables.outer(qualifier, name)
    }

    fn is_alias(&self, name: &str) -> bool {
        self.tables.is_alias(name)
    }

    fn aliases_visible(&self) -> bool {
        true
    }

    fn outer_reason(&self, qualifier: Option<&str>, name: &str) -> Option<String> {
        self.tables.outer_reason(qualifier, name)
    }

    fn cte(&self, name: &str, binding: bool) -> Result<Option<&CteRows>> {
        self.tables.cte(name, binding)
    }

    fn alias(&self, name: &str) -> Option<(&Expr, &dyn Scope)> {
        self.items.iter().find_map(|i| match i {
            SelectItem::ExprWithAlias { expr, alias } if alias.value == name => {
                Some((expr, self.tables))
            }
            _ => None,
        })
    }
}

/// The names a query's expressions see: its own tables' columns and, when it is a
/// subquery run for one row of the query around it (`outer`), a name its tables do not
/// have is a column of that row (or of the query around that one).
pub(super) struct QueryScope<'a> {
    pub(super) tables: &'a Tables,
    pub(super) outer: Option<(&'a dyn Scope, &'a [Value])>,
    /// The query's items, for their `AS` names (see [`Scope::is_alias`]); none where the
    /// scope is not a query's (an `ON`).
    pub(super) items: &'a [SelectItem],
}

impl Scope for QueryScope<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        self.tables.resolve(qualifier, name)
    }

    fn is_alias(&self, name: &str) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, SelectItem::ExprWithAlias { alias, .. } if alias.value == name))
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        outer_value(self.outer, qualifier, name)
    }

    fn outer_reason(&self, qualifier: Option<&str>, name: &str) -> Option<String> {
        outer_reason(self.outer, qualifier, name)
    }

    fn cte(&self, name: &str, binding: bool) -> Result<Option<&CteRows>> {
        match self.outer {
            Some((outer, _)) => outer.cte(name, binding),
            None => Ok(None),
        }
    }
}

/// The value of column `name` of the query around a scope (`outer`: that query's names and
/// the row the scope's query runs for), or of one around that.
pub(crate) fn outer_value(
    outer: Option<(&dyn Scope, &[Value])>,
    qualifier: Option<&str>,
    name: &str,
) -> Option<Value> {
    let (outer, row) = outer?;
    match outer.resolve(qualifier, name) {
        Ok(i) => row.get(i).cloned(),
        // Ambiguous in the nearest query that has it: no query further out gives it (SQLite
        // refuses it too).
        Err(r) if is_ambiguous(&r) => None,
        // An alias of the query around: not a column further out either.
        Err(_) if qualifier.is_none() && outer.is_alias(name) => None,
        Err(_) => outer.outer(qualifier, name),
    }
}

/// The refusal of `name`, an `AS` name of a query around a subquery that names it (SQLite
/// reads it as that item's expression; tabula reads aliases only in their own query).
fn alias_reason(name: &str) -> String {
    format!(
        "{name} is an alias of a query around this subquery, which a subquery cannot name \
         here: repeat the item's expression"
    )
}

/// Whether a scope's reason for not resolving a name is that several of its tables have it.
pub(super) fn is_ambiguous(reason: &str) -> bool {
    reason.starts_with("column ") && reason.contains(" is ambiguous")
}

/// Why the query around a scope (`outer`), or one around that, cannot give
/// `qualifier.name` though it has a table `qualifier`, or (without a qualifier) `name`
/// because several of its tables have it; `None` otherwise.
pub(crate) fn outer_reason(
    outer: Option<(&dyn Scope, &[Value])>,
    qualifier: Option<&str>,
    name: &str,
) -> Option<String> {
    let (outer, _) = outer?;
    match (qualifier, outer.resolve(qualifier, name)) {
        (None, Err(r)) if is_ambiguous(&r) => Some(r),
        (None, Err(_)) if outer.is_alias(name) => Some(alias_reason(name)),
        // A scope of no tables of its own (`Beyond`, common table expressions) says "no
        // column": the queries around it may have the table.
        (Some(_), Err(r)) if !r.starts_with("no table named ") && !r.starts_with("no column ") => {
            Some(r)
        }
        (_, Ok(_)) => None,
        _ => outer.outer_reason(qualifier, name),
    }
}

/// The names of the queries around a scope, but none of its own: what a subquery run once
/// (not per row) may name beyond its own tables. `aliases`: whether the subquery is in a
/// clause of the query around it that reads its items' aliases (see
/// [`Scope::aliases_visible`]), where an alias stops the search outward.
pub(super) struct Beyond<'a> {
    scope: &'a dyn Scope,
    aliases: bool,
}

impl<'a> Beyond<'a> {
    pub(super) fn new(scope: &'a dyn Scope) -> Self {
        Beyond {
            scope,
            aliases: false,
        }
    }

    /// The rows of `sq`, a subquery run once (not per row) inside the query this is
    /// beyond, for [`Params::with_subqueries`](super::scalar::Params::with_subqueries);
    /// `aliases`: see [`Beyond`].
    pub(super) fn rows_of(
        &self,
        target: Target<'_, '_>,
        sq: &Query,
        params: &[Value],
        aliases: bool,
    ) -> Result<Vec<Vec<Value>>> {
        let beyond = Beyond {
            scope: self.scope,
            aliases,
        };
        select_each(target, sq, params, Some((&beyond, &[][..])), None).map(|r| r.rows)
    }
}

impl Scope for Beyond<'_> {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        // A name of the query's own tables (or of several of them) is theirs: a subquery
        // naming it is correlated with that query, which runs it per row, and reads no
        // query further out.
        match self.scope.resolve(qualifier, name) {
            Ok(_) => None,
            Err(r) if is_ambiguous(&r) => None,
            Err(_) if qualifier.is_none() && self.aliases && self.scope.is_alias(name) => None,
            Err(_) => self.scope.outer(qualifier, name),
        }
    }

    fn is_alias(&self, name: &str) -> bool {
        // A column of the query's own tables (or of several of them) wins over an alias of
        // its name: the subquery is correlated with it, or the name is ambiguous.
        self.aliases
            && self.scope.is_alias(name)
            && self
                .scope
                .resolve(None, name)
                .is_err_and(|r| !is_ambiguous(&r))
    }

    fn outer_reason(&self, qualifier: Option<&str>, name: &str) -> Option<String> {
        match self.scope.resolve(qualifier, name) {
            // The query's own name: the subquery is correlated with it, no error of its.
            Ok(_) => None,
            Err(r) if qualifier.is_none() && is_ambiguous(&r) => Some(r),
            Err(_) if qualifier.is_none() && self.aliases && self.scope.is_alias(name) => {
                Some(alias_reason(name))
            }
            Err(_) => self.scope.outer_reason(qualifier, name),
        }
    }

    fn cte(&self, name: &str, binding: bool) -> Result<Option<&CteRows>> {
        self.scope.cte(name, binding)
    }
}
