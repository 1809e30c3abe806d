//! Deterministic sampling: sample sizes by control frequency, a seed nobody can steer, and a
//! stratified selection an auditor can re-derive from the population file alone.
//!
//! The seed is `SHA-256(control id || "|" || population hash)`, where the population hash is
//! the SHA-256 of the control's `population.jsonl` exactly as shipped. The population is split
//! into as many contiguous strata as the sample has items (so the sample spreads over the
//! period), and item `i` of the sample is
//! `stratum_start + (first 8 bytes of SHA-256(seed || i as u64 big-endian), big-endian) mod stratum_len`.

use serde::Serialize;
use sha2::{Digest, Sha256};
use spanforge_catalog::canonical::Frequency;

/// Sample sizes per control frequency (the fixed table of the methodology; each field can be
/// changed per engagement, since audit firms differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SampleTable {
    /// Annual controls.
    pub annual: u64,
    /// Quarterly controls.
    pub quarterly: u64,
    /// Monthly controls.
    pub monthly: u64,
    /// Weekly controls.
    pub weekly: u64,
    /// Daily controls.
    pub daily: u64,
    /// Controls operating many times a day (continuous).
    pub many_per_day: u64,
    /// Event-driven controls with more than 250 occurrences.
    pub ad_hoc_over_250: u64,
    /// Event-driven controls with 51 to 250 occurrences.
    pub ad_hoc_51_to_250: u64,
    /// Event-driven controls with 11 to 50 occurrences (10 or fewer are tested in full).
    pub ad_hoc_11_to_50: u64,
}

impl Default for SampleTable {
    fn default() -> Self {
        Self {
            annual: 1,
            quarterly: 2,
            monthly: 2,
            weekly: 5,
            daily: 25,
            many_per_day: 40,
            ad_hoc_over_250: 25,
            ad_hoc_51_to_250: 15,
            ad_hoc_11_to_50: 8,
        }
    }
}

impl SampleTable {
    /// The sample size for a control of `frequency` with `population` items (never more than
    /// the population).
    pub fn size(&self, frequency: Frequency, population: u64) -> u64 {
        let size = match frequency {
            Frequency::Annual => self.annual,
            Frequency::Quarterly => self.quarterly,
            Frequency::Monthly => self.monthly,
            Frequency::Weekly => self.weekly,
            Frequency::Daily => self.daily,
            Frequency::Continuous => self.many_per_day,
            Frequency::PerEvent | Frequency::PerChange => match population {
                0..=10 => population,
                11..=50 => self.ad_hoc_11_to_50,
                51..=250 => self.ad_hoc_51_to_250,
                _ => self.ad_hoc_over_250,
            },
        };
        size.min(population)
    }
}

/// How the items tested were chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Selection {
    /// Every item was tested.
    Census {
        /// Population size.
        population: u64,
    },
    /// A deterministic stratified sample was tested.
    Sample {
        /// Population size.
        population: u64,
        /// Sample size.
        size: u64,
        /// The seed, hex.
        seed: String,
        /// How the seed was derived.
        seed_derivation: String,
        /// Zero-based positions (line numbers minus one) in `population.jsonl`, ascending.
        indices: Vec<u64>,
    },
}

impl Selection {
    /// The positions tested, or `None` for a census.
    pub fn indices(&self) -> Option<&[u64]> {
        match self {
            Selection::Census { .. } => None,
            Selection::Sample { indices, .. } => Some(indices),
        }
    }
}

/// The seed for a control's sample.
pub fn seed(control: &str, population_hash: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(control.as_bytes())
        .chain_update(b"|")
        .chain_update(population_hash)
        .finalize()
        .into()
}

/// Draws a stratified sample of `size` positions from a population of `population` items.
pub fn select(control: &str, population_hash: &[u8; 32], population: u64, size: u64) -> Selection {
    let size = size.min(population);
    let seed = seed(control, population_hash);
    let mut indices = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for i in 0..size {
        // Stratum bounds in u128 so that i * population cannot overflow.
        let lo = u64::try_from(u128::from(i) * u128::from(population) / u128::from(size))
            .unwrap_or(u64::MAX);
        let hi = u64::try_from(u128::from(i + 1) * u128::from(population) / u128::from(size))
            .unwrap_or(u64::MAX);
        let len = hi.saturating_sub(lo).max(1);
        let draw: [u8; 32] = Sha256::new()
            .chain_update(seed)
            .chain_update(i.to_be_bytes())
            .finalize()
            .into();
        let mut first = [0_u8; 8];
        first.copy_from_slice(draw.get(..8).unwrap_or(&[0; 8]));
        indices.push(lo + u64::from_be_bytes(first) % len);
    }
    Selection::Sample {
        population,
        size,
        seed: hex::encode(seed),
        seed_derivation:
            "SHA-256(control id || \"|\" || SHA-256(population.jsonl)); item i = stratum_start + \
                          u64_be(SHA-256(seed || u64_be(i))[0..8]) mod stratum_len"
                .to_owned(),
        indices,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn table_follows_the_methodology() {
        let t = SampleTable::default();
        assert_eq!(t.size(Frequency::Annual, 3), 1);
        assert_eq!(t.size(Frequency::Quarterly, 9), 2);
        assert_eq!(t.size(Frequency::Monthly, 9), 2);
        assert_eq!(t.size(Frequency::Weekly, 90), 5);
        assert_eq!(t.size(Frequency::Daily, 365), 25);
        assert_eq!(t.size(Frequency::Continuous, 1_000_000), 40);
        assert_eq!(t.size(Frequency::PerEvent, 7), 7);
        assert_eq!(t.size(Frequency::PerEvent, 10), 10);
        assert_eq!(t.size(Frequency::PerEvent, 11), 8);
        assert_eq!(t.size(Frequency::PerChange, 50), 8);
        assert_eq!(t.size(Frequency::PerChange, 51), 15);
        assert_eq!(t.size(Frequency::PerEvent, 250), 15);
        assert_eq!(t.size(Frequency::PerEvent, 251), 25);
        assert_eq!(t.size(Frequency::Daily, 3), 3);
    }

    #[test]
    fn selection_is_deterministic_and_depends_on_the_population() {
        let h1 = [1_u8; 32];
        let h2 = [2_u8; 32];
        let a = select("SF-CHG-01", &h1, 1000, 25);
        assert_eq!(a, select("SF-CHG-01", &h1, 1000, 25));
        assert_ne!(a.indices(), select("SF-CHG-01", &h2, 1000, 25).indices());
        assert_ne!(a.indices(), select("SF-CHG-02", &h1, 1000, 25).indices());
    }

    proptest! {
        #[test]
        fn one_item_per_stratum(n in 1_u64..100_000, k in 1_u64..60, h in any::<[u8; 32]>()) {
            let sel = select("SF-X-01", &h, n, k);
            let idx = sel.indices().unwrap();
            prop_assert_eq!(idx.len() as u64, k.min(n));
            for w in idx.windows(2) {
                prop_assert!(w[0] < w[1]);
            }
            prop_assert!(idx.iter().all(|&i| i < n));
        }
    }
}
