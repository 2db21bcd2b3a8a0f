//! What `ipc-hostile-peer` and the tests that start it (`tests/hostile_peer.rs`)
//! share: a small seeded random generator, so that a run can be replayed
//! from its seed, and the words of the lines the peer reports on stdout.

/// A seeded xorshift64* generator: small, fast, and the same on every
/// platform, so that a seed names one run of mutations everywhere.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> XorShift {
        // xorshift never leaves zero: mix the seed first, and keep a bit set.
        XorShift(splitmix(seed) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True `percent` times out of a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One step of splitmix64: spreads the bits of `x` (seed derivation).
pub fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of round `round` of a run seeded `seed`.
pub fn round_seed(seed: u64, round: u64) -> u64 {
    splitmix(seed ^ splitmix(round))
}

/// First word of the line the peer prints when a panic reaches its hook.
pub const PANIC: &str = "panic:";
/// First word of each line reporting one attempt to resize the memory:
/// `resize <what> <how>: <outcome>`, the outcome being `refused errno <n>`,
/// `allowed` or `unsupported`.
pub const RESIZE: &str = "resize";
/// First word of the line the peer prints once its attempts to resize are
/// over and it still reads the whole mapping: `resized: done`.
pub const RESIZE_DONE: &str = "resized: done";
/// The line the peer prints when it has made all its mutations:
/// `scribble: done <count>`.
pub const SCRIBBLE_DONE: &str = "scribble: done";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_one_sequence() {
        let (mut a, mut b) = (XorShift::new(7), XorShift::new(7));
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert!(xs.iter().all(|&x| x == b.next_u64()));
        assert_ne!(xs[0], XorShift::new(8).next_u64());
        let mut z = XorShift::new(0);
        assert_ne!(z.next_u64(), z.next_u64());
    }

    #[test]
    fn below_stays_below() {
        let mut r = XorShift::new(1);
        for n in [1u64, 2, 3, 10, 1 << 40] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }
}
