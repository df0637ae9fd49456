//! Room on the stack for recursion whose depth a SQL text sets: a query inside a query
//! (subqueries, common table expressions naming each other), an expression inside an
//! expression. Each such level calls [`room`] first, which carries on in a new stack
//! segment when the thread's stack is nearly used up, so that a deep text fails (where a
//! limit refuses it) or runs, and never overflows the stack of whatever thread runs it: a
//! program's own threads have 2 MiB unless it says otherwise, and an unoptimized build's
//! frames are several times an optimized one's.

/// The stack a level may use before the next one calls [`room`]: what runs between two
/// calls (a query's joined tables, up to 64 levels of them, each evaluating an expression
/// of up to 200 levels) must fit. An unoptimized build's frames are far larger (a `match`
/// over a large enum keeps a slot for every arm).
const RED_ZONE: usize = if cfg!(debug_assertions) {
    2 << 20
} else {
    512 << 10
};

/// Each new segment; more are added as the recursion goes deeper.
const SEGMENT: usize = 8 << 20;

/// A statement's stack: [`STATEMENT`] bytes, in a segment of [`SEGMENT`] if the thread has
/// less left, so that the [`room`] calls inside it (a correlated subquery's, once per row)
/// find their red zone there rather than each mapping a segment of its own.
const STATEMENT: usize = 2 * RED_ZONE;

/// Runs `f`, one statement, with at least [`STATEMENT`] bytes of stack left.
#[inline]
pub(crate) fn statement<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(STATEMENT, SEGMENT, f)
}

/// Runs `f` with at least [`RED_ZONE`] bytes of stack left, in a new segment if the
/// current one has less.
#[inline]
pub(crate) fn room<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// The stack the SQL parser may take for one statement: it recurses once per level of
/// parentheses, subqueries and prefixes, up to its limit of 50; a level of derived tables
/// (`FROM (SELECT … FROM (…`) took 44 KB in an optimized build, and an unoptimized one
/// takes several times that.
const PARSE: usize = if cfg!(debug_assertions) {
    16 << 20
} else {
    4 << 20
};

/// Runs `f`, a parse of one statement, with [`PARSE`] bytes of stack.
pub(crate) fn parse_room<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(PARSE, PARSE, f)
}

/// Runs `f`, a parse of one statement with the recursion limit at twice the parser's
/// default, with twice [`PARSE`] bytes of stack.
pub(crate) fn deep_parse_room<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(2 * PARSE, 2 * PARSE, f)
}

/// Stack a parsed text may take per byte: the tree of `a + a + …` is as deep as the text
/// is long over two, and a walk of it (dropping it, placing an error in it) takes a frame
/// per level.
const PER_BYTE: usize = if cfg!(debug_assertions) { 2048 } else { 256 };

/// Runs `f`, which parses and walks a text of `len` bytes, with stack for a tree as deep
/// as the text allows.
pub(crate) fn for_text<R>(len: usize, f: impl FnOnce() -> R) -> R {
    let need = len.saturating_mul(PER_BYTE).max(64 << 10);
    stacker::maybe_grow(need, need.max(SEGMENT), f)
}
