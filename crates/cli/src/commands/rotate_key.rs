//! `rotate-key`: a new data key, every page re-encrypted.

use std::process::ExitCode;

use anyhow::Result;
use cardsgalore_store::{rotate_key, AuditEvent, DataDir};

use crate::cli::{ConfirmOpts, PassphraseArgs};
use crate::passphrase::confirm;
use crate::progress;

pub fn run(dir: &DataDir, pass: &PassphraseArgs, opts: ConfirmOpts) -> Result<ExitCode> {
    dir.require_initialized()?;
    let _service = dir.lock_service("rotating the data key")?;
    let _lock = dir.lock_exclusive()?;
    let mut store = super::unlock(dir, pass)?;
    confirm(
        "Re-encrypt the whole database under a new data key?",
        opts.yes,
    )?;
    let by = store.keyring.unlocked_with().to_string();
    super::audit(
        dir,
        AuditEvent::new("rotation_started", true).with("by", by.as_str()),
    );
    let bar = progress::bar("re-encrypting pages", false);
    let report = rotate_key(dir, &mut store, &mut progress::callback(&bar));
    bar.finish_and_clear();
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            super::audit(
                dir,
                AuditEvent::new("rotation_finished", false).with("by", by),
            );
            return Err(e.into());
        }
    };
    super::audit(
        dir,
        AuditEvent::new("rotation_finished", true)
            .with("by", by)
            .with("pages", report.pages.to_string()),
    );
    let secs = report.elapsed.as_secs_f64();
    let mb = report.bytes as f64 / 1e6;
    println!(
        "Rotated the data key: {} pages ({mb:.1} MB) re-encrypted in {secs:.2} s ({:.1} MB/s). The old key is gone.",
        report.pages,
        mb / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
