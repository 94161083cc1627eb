//! Argon2id parameters for new keyslots: calibrated to about one second, or given explicitly.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use cardsgalore_keyring::KdfParams;
use clap::Args;

#[derive(Args, Debug, Default, Clone)]
pub struct KdfArgs {
    /// Argon2id memory in KiB for new keyslots (default: calibrated, at least 65536).
    #[arg(long, value_name = "KIB")]
    pub kdf_memory_kib: Option<u32>,
    /// Argon2id passes for new keyslots (default: calibrated to about one second).
    #[arg(long, value_name = "N")]
    pub kdf_time: Option<u32>,
    /// Argon2id lanes for new keyslots.
    #[arg(long, value_name = "N")]
    pub kdf_parallelism: Option<u32>,
}

impl KdfArgs {
    /// The parameters to use: explicit ones (with a loud warning below the production floor),
    /// otherwise calibrated on this machine.
    pub fn resolve(&self) -> Result<KdfParams> {
        if self.kdf_memory_kib.is_none()
            && self.kdf_time.is_none()
            && self.kdf_parallelism.is_none()
        {
            let started = Instant::now();
            let params = KdfParams::calibrate(Duration::from_secs(1));
            tracing::info!(%params, elapsed = ?started.elapsed(), "calibrated Argon2id");
            return Ok(params);
        }
        let params = KdfParams {
            m_kib: self.kdf_memory_kib.unwrap_or(KdfParams::FLOOR_M_KIB),
            t: self.kdf_time.unwrap_or(3),
            p: self.kdf_parallelism.unwrap_or(1),
        };
        if let Err(e) = params.check() {
            bail!("invalid Argon2id parameters: {e}");
        }
        if params.is_below_floor() {
            eprintln!(
                "WARNING: Argon2id memory {} KiB is below the {} KiB floor: this keyslot is cheap to brute-force. Use such parameters for tests only.",
                params.m_kib,
                KdfParams::FLOOR_M_KIB
            );
        }
        Ok(params)
    }
}
