//! The two capabilities this crate never takes for itself: the time of day and random bytes.
//!
//! The crate reads neither the wall clock nor the operating system's random source on its own. Code that makes
//! new events passes a [`Clock`] and an [`Entropy`] in, so tests can pin both and the layers above decide where
//! time and randomness come from. The default-on `std-clock` feature adds [`SystemClock`] and [`OsEntropy`],
//! the obvious implementations; turning the feature off removes them and the `getrandom` dependency.

/// A source of the current time, in microseconds since the Unix epoch (UTC).
pub trait Clock {
    /// The current time in microseconds since 1970-01-01T00:00:00Z.
    fn unix_micros(&self) -> i64;

    /// The current time in whole milliseconds since the epoch (rounded towards minus infinity).
    fn unix_millis(&self) -> i64 {
        self.unix_micros().div_euclid(1000)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn unix_micros(&self) -> i64 {
        (**self).unix_micros()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn unix_micros(&self) -> i64 {
        (**self).unix_micros()
    }
}

/// A source of unpredictable bytes for the random part of new event identifiers.
pub trait Entropy {
    /// Fills `buf` with random bytes, or says why it cannot.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError>;
}

impl<E: Entropy + ?Sized> Entropy for &mut E {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        (**self).fill(buf)
    }
}

impl<E: Entropy + ?Sized> Entropy for Box<E> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        (**self).fill(buf)
    }
}

/// An entropy source could not deliver bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entropy source failed: {0}")]
pub struct EntropyError(pub String);

/// A clock that always reads the same instant; for tests and for replaying a known history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn unix_micros(&self) -> i64 {
        self.0
    }
}

/// The system's wall clock (`std::time::SystemTime`).
#[cfg(feature = "std-clock")]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(feature = "std-clock")]
impl Clock for SystemClock {
    fn unix_micros(&self) -> i64 {
        // A clock set before 1970 yields a negative duration, which we keep rather than clamp.
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
        }
    }
}

/// The operating system's random source, through `getrandom`.
#[cfg(feature = "std-clock")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

#[cfg(feature = "std-clock")]
impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(buf).map_err(|e| EntropyError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_sources_work_behind_dyn() {
        let clock: Box<dyn Clock> = Box::new(FixedClock(7_000));
        assert_eq!(clock.unix_millis(), 7);
        struct Ones;
        impl Entropy for Ones {
            fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
                buf.fill(1);
                Ok(())
            }
        }
        let mut entropy: Box<dyn Entropy> = Box::new(Ones);
        let mut buf = [0u8; 3];
        entropy.fill(&mut buf).unwrap();
        assert_eq!(buf, [1, 1, 1]);
    }

    #[test]
    fn millis_round_towards_minus_infinity() {
        assert_eq!(FixedClock(1_999).unix_millis(), 1);
        assert_eq!(FixedClock(-1).unix_millis(), -1);
    }

    #[cfg(feature = "std-clock")]
    #[test]
    fn system_sources_work() {
        // After 2020-01-01 in microseconds.
        assert!(SystemClock.unix_micros() > 1_577_836_800_000_000);
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        OsEntropy.fill(&mut a).unwrap();
        OsEntropy.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
