//! Parsed statements by their text, so that a statement run many times (`db.sql_with` or
//! `tx.sql_with` in a loop) is parsed once. Bounded: past its capacity the oldest text goes.
//! Parsing depends on the text alone, never on the tables or the database, so one cache
//! serves every database of the process, and an entry never goes stale.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

// foldhash (hashbrown's default): a lookup hashes the whole text on every run of a
// statement, where std's SipHash cost more than the rest of a cached lookup.
use hashbrown::HashMap;

use crate::error::Result;
use crate::sql::parse::{parse, Parsed};

/// How many texts are kept.
const CAPACITY: usize = 256;
/// Longer texts (scripts, dumps) are parsed each time rather than kept.
pub(crate) const LONGEST: usize = 4096;

/// The parsed statements of the texts run lately.
#[derive(Default)]
pub(crate) struct PlanCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Arc<Parsed>>,
    order: VecDeque<String>,
}

/// The process's cache.
static PARSED: LazyLock<PlanCache> = LazyLock::new(PlanCache::default);

/// The statements of `text`, parsed now or earlier (by any database of the process).
pub(crate) fn parsed(text: &str) -> Result<Arc<Parsed>> {
    PARSED.parsed(text)
}

impl PlanCache {
    /// The statements of `text`, parsed now or earlier.
    pub(crate) fn parsed(&self, text: &str) -> Result<Arc<Parsed>> {
        if text.len() > LONGEST {
            return parse(text).map(Arc::new);
        }
        if let Some(p) = self.lock().map.get(text) {
            return Ok(p.clone());
        }
        // Parsed without the lock held: two threads may parse one text, and one keeps it.
        let p = Arc::new(parse(text)?);
        let mut inner = self.lock();
        if !inner.map.contains_key(text) {
            if inner.order.len() == CAPACITY {
                if let Some(old) = inner.order.pop_front() {
                    inner.map.remove(&old);
                }
            }
            inner.order.push_back(text.to_owned());
            inner.map.insert(text.to_owned(), p.clone());
        }
        Ok(p)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_the_oldest_goes_past_the_capacity() {
        let cache = PlanCache::default();
        let a = cache.parsed("SELECT 1").unwrap();
        let b = cache.parsed("SELECT 1").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        for i in 0..CAPACITY {
            cache.parsed(&format!("SELECT {i} + 1")).unwrap();
        }
        assert_eq!(cache.lock().map.len(), CAPACITY);
        let c = cache.parsed("SELECT 1").unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "the oldest text was dropped");
    }
}
