//! Argon2id parameters: calibration, limits, and derivation of a slot's wrapping key.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Argon2id cost parameters of one keyslot, stored in the keyring next to the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// Production floor: never calibrate below 64 MiB.
    pub const FLOOR_M_KIB: u32 = 64 * 1024;
    /// Largest memory a keyring may ask for (4 GiB): a tampered file cannot ask for terabytes.
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    /// Largest pass count a keyring may ask for.
    pub const MAX_T: u32 = 64;
    /// Largest lane count a keyring may ask for.
    pub const MAX_P: u32 = 16;

    /// Finds parameters that take about `target` on this machine: 64 MiB and as many passes as
    /// fit. The first pass of a run also pays for allocating and zeroing the memory, so the cost
    /// of each further pass is measured as (t=3 - t=1) / 2, after a warm-up run.
    pub fn calibrate(target: Duration) -> KdfParams {
        let params = KdfParams {
            m_kib: Self::FLOOR_M_KIB,
            t: 1,
            p: 1,
        };
        // The floor parameters are always valid, so these derivations cannot fail.
        let time = |t: u32| {
            let probe = KdfParams { t, ..params };
            let start = Instant::now();
            let _ = probe.derive(b"calibration", &[0u8; 16]);
            start.elapsed().as_secs_f64()
        };
        time(1);
        let first = time(1);
        let per_pass = ((time(3) - first) / 2.0).max(0.001);
        let more = ((target.as_secs_f64() - first) / per_pass).round().max(0.0);
        KdfParams {
            t: (1 + more as u32).clamp(1, Self::MAX_T),
            ..params
        }
    }

    /// True when these parameters are weaker than the production floor.
    pub fn is_below_floor(&self) -> bool {
        self.m_kib < Self::FLOOR_M_KIB
    }

    /// Checks the parameters against Argon2's own limits and our caps.
    pub fn check(&self) -> Result<(), String> {
        if self.m_kib > Self::MAX_M_KIB {
            return Err(format!(
                "Argon2id memory {} KiB is above the limit of {} KiB",
                self.m_kib,
                Self::MAX_M_KIB
            ));
        }
        if self.t == 0 || self.t > Self::MAX_T {
            return Err(format!(
                "Argon2id time cost {} is outside 1..={}",
                self.t,
                Self::MAX_T
            ));
        }
        if self.p == 0 || self.p > Self::MAX_P {
            return Err(format!(
                "Argon2id parallelism {} is outside 1..={}",
                self.p,
                Self::MAX_P
            ));
        }
        if self.m_kib < 8 * self.p {
            return Err(format!(
                "Argon2id memory {} KiB is below 8 KiB per lane",
                self.m_kib
            ));
        }
        Ok(())
    }

    /// Derives a 32-byte wrapping key from a passphrase and salt.
    pub(crate) fn derive(
        &self,
        passphrase: &[u8],
        salt: &[u8; 16],
    ) -> Result<Zeroizing<[u8; 32]>, String> {
        self.check()?;
        let params =
            Params::new(self.m_kib, self.t, self.p, Some(32)).map_err(|e| e.to_string())?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

impl std::fmt::Display for KdfParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Argon2id m={} MiB t={} p={}",
            self.m_kib / 1024,
            self.t,
            self.p
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_refuse_absurd_parameters() {
        let huge = KdfParams {
            m_kib: u32::MAX,
            t: 1,
            p: 1,
        };
        assert!(huge.check().unwrap_err().contains("above the limit"));
        let zero_t = KdfParams {
            m_kib: 1024,
            t: 0,
            p: 1,
        };
        assert!(zero_t.check().is_err());
        assert!(zero_t.derive(b"x", &[0; 16]).is_err());
    }

    #[test]
    fn derivation_depends_on_passphrase_and_salt() {
        let p = KdfParams {
            m_kib: 64,
            t: 1,
            p: 1,
        };
        let a = p.derive(b"one", &[1; 16]).unwrap();
        let b = p.derive(b"two", &[1; 16]).unwrap();
        let c = p.derive(b"one", &[2; 16]).unwrap();
        assert_ne!(*a, *b);
        assert_ne!(*a, *c);
        assert_eq!(*a, *p.derive(b"one", &[1; 16]).unwrap());
    }
}
