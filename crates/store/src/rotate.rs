//! Data key rotation: every page re-encrypted under a new random key, crash-safe.
//!
//! 1. Both keys are recorded in the keyring (current + pending) before any file changes.
//! 2. The database is copied page by page (SQLite backup API) into a new file keyed with the
//!    new key, which is checked and fsynced.
//! 3. The old file's WAL is checkpointed away, then the new file is renamed over it.
//! 4. The keyring forgets the old key.
//!
//! A kill at any moment leaves a database that opens with one of the keys in the keyring, and
//! the next unlock keeps that one ([`crate::open_store`]).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cardsgalore_keyring::fsync_dir;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::OpenFlags;

use crate::connection::{open_connection, open_keyed, run_pragma};
use crate::datadir::{create_private_file, temp_sibling, DataDir};
use crate::error::StoreError;
use crate::unlock::{remove_rotation_leftovers, OpenedStore};
use crate::Progress;

const PAGES_PER_STEP: i32 = 1024;

#[derive(Debug)]
pub struct RotateReport {
    pub pages: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Rotates the data key of `dir`. The caller holds the service lock and the exclusive lock,
/// and opened the store with [`crate::open_store`].
pub fn rotate_key(
    dir: &DataDir,
    store: &mut OpenedStore,
    progress: Progress<'_>,
) -> Result<RotateReport, StoreError> {
    let started = Instant::now();
    remove_rotation_leftovers(dir)?;
    let db = dir.db_path();
    let src = open_connection(&db, &store.data_key)?;
    run_pragma(&src, "PRAGMA wal_checkpoint(TRUNCATE)")?;

    let new_key = store.keyring.begin_rotation();
    store.keyring.save(&dir.keyring_path())?;

    let tmp = temp_sibling(&db, "rotate");
    let copied = (|| {
        create_private_file(&tmp)?;
        let mut dst = open_keyed(&tmp, &new_key, OpenFlags::default())?;
        let pages = {
            let backup = Backup::new(&src, &mut dst)?;
            loop {
                let step = backup.step(PAGES_PER_STEP)?;
                let p = backup.progress();
                let total = u64::try_from(p.pagecount).unwrap_or(0);
                let left = u64::try_from(p.remaining).unwrap_or(0);
                progress(total - left.min(total), total);
                match step {
                    StepResult::Done => break total,
                    StepResult::More => {}
                    _ => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        };
        dst.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        dst.close().map_err(|(_, e)| StoreError::from(e))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(StoreError::io(&tmp))?;
        Ok(pages)
    })();
    let pages = match copied {
        Ok(pages) => pages,
        Err(e) => return Err(abandon(dir, store, &tmp, e)),
    };

    // Closing the last connection checkpoints the WAL and deletes it. A WAL left next to the
    // new file would be replayed into it, so refuse to go on if one remains non-empty.
    src.close().map_err(|(_, e)| StoreError::from(e))?;
    let wal = side_file(&db, "-wal");
    if fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        let busy = StoreError::Busy(format!(
            "{} still has uncheckpointed changes; is another process using the database?",
            db.display()
        ));
        return Err(abandon(dir, store, &tmp, busy));
    }
    for side in [wal, side_file(&db, "-shm")] {
        if side.exists() {
            fs::remove_file(&side).map_err(StoreError::io(&side))?;
        }
    }
    fs::rename(&tmp, &db).map_err(StoreError::io(&db))?;
    fsync_dir(dir.root()).map_err(StoreError::io(dir.root()))?;

    store.keyring.finish_rotation();
    store.keyring.save(&dir.keyring_path())?;
    store.data_key = new_key;
    drop(open_connection(&db, &store.data_key)?);

    let bytes = fs::metadata(&db).map_err(StoreError::io(&db))?.len();
    Ok(RotateReport {
        pages,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Undoes a rotation that failed before the swap: the database still uses the current key.
fn abandon(dir: &DataDir, store: &mut OpenedStore, tmp: &Path, err: StoreError) -> StoreError {
    let _ = fs::remove_file(tmp);
    // A copy that failed mid-write (e.g. a full disk) leaves the new file's rollback journal.
    for suffix in ["-journal", "-wal", "-shm"] {
        let _ = fs::remove_file(side_file(tmp, suffix));
    }
    store.keyring.abort_rotation();
    match store.keyring.save(&dir.keyring_path()) {
        Ok(()) => err,
        Err(save) => save.into(),
    }
}

fn side_file(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
