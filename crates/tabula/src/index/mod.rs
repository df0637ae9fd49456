//! Indexes over the rows of one table. They store slots (positions in the table's row slab),
//! never copies of rows: the primary-key index ([`key`]) and the unique indexes ([`hash`])
//! are hash tables of slots that hash and compare through the rows themselves; an ordered
//! index ([`ordered`]) maps each value to its set of slots (see [`posting`]), and a
//! composite one ([`composite`]) each row's values of several columns.

mod composite;
mod hash;
mod key;
mod ordered;
mod posting;

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::DefaultHashBuilder;

use crate::value::ValueRef;

pub(crate) use composite::CompositeIndex;
pub(crate) use hash::HashIndex;
#[cfg(test)]
pub(crate) use key::MAX_KEY_GAP;
pub(crate) use key::{dense_position, max_key_gap, KeyIndex};
pub(crate) use ordered::OrderedIndex;

/// Hashes a borrowed value with the table's hasher.
#[derive(Debug, Default, Clone)]
pub(crate) struct ValueHasher(DefaultHashBuilder);

struct Hashed<'a>(ValueRef<'a>);
impl Hash for Hashed<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash_into(state)
    }
}

impl ValueHasher {
    #[inline]
    pub(crate) fn hash(&self, v: ValueRef<'_>) -> u64 {
        self.0.hash_one(Hashed(v))
    }

    /// The hash of a composite key: its values in order.
    #[inline]
    pub(crate) fn hash_tuple<'a>(&self, values: impl Iterator<Item = ValueRef<'a>>) -> u64 {
        let mut h = self.0.build_hasher();
        for v in values {
            v.hash_into(&mut h);
        }
        h.finish()
    }

    /// [`ValueHasher::hash`] of a text value, inlined.
    #[inline(always)]
    pub(crate) fn hash_text(&self, text: &str) -> u64 {
        let mut h = self.0.build_hasher();
        crate::value::hash_text_into(text, &mut h);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hash_matches_value_hash() {
        let h = ValueHasher::default();
        for t in ["", "a", "s123@uni.edu", "ünï"] {
            assert_eq!(h.hash_text(t), h.hash(ValueRef::Text(t)));
        }
    }
}
