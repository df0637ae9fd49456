//! A log-linear latency histogram: fixed memory whatever the number of reads (a phase's read
//! count is not known in advance, and a reader must not allocate while it is timed), exact
//! below 128 ns and within 1/64 of the value above.

/// Sub-buckets per power of two: a bucket spans at most 1/64 of its values.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for any u64.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) << SUB_BITS;

#[derive(Debug, Clone)]
pub struct Hist {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

fn index(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    let mantissa = v >> shift; // in SUB..2*SUB
    (((shift as u64 + 1) << SUB_BITS) + (mantissa - SUB)) as usize
}

/// The largest value that falls in bucket `i`: percentiles err on the slow side.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let shift = (i >> SUB_BITS) - 1;
    let mantissa = (i & (SUB - 1)) + SUB;
    (mantissa << shift) + ((1 << shift) - 1)
}

impl Hist {
    pub fn new() -> Self {
        Hist {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
    }

    /// The value at quantile `q` (0.0..=1.0): the top of its bucket, capped at the maximum
    /// seen. 0 for an empty histogram.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }

    pub fn max(&self) -> u64 {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last = 0;
        for v in (0..5000u64).chain([1 << 20, (1 << 40) + 12345, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS);
            assert!(upper(i) >= v, "{v} above its bucket's top {}", upper(i));
            assert!(
                (upper(i) - v) as f64 <= v as f64 / SUB as f64,
                "{v}: bucket too wide"
            );
            if v < 5000 {
                assert!(i == last || i == last + 1, "{v} skips a bucket");
                last = i;
            }
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Hist::new();
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), upper(index(500)));
        assert!(h.quantile(0.99) >= 990 && h.quantile(0.99) <= 1000);
        assert_eq!(h.quantile(1.0), 1000);
        assert_eq!(h.max(), 1000);
    }
}
