//! The data directory: where the keyring, the database and the lock files live, how a new
//! one is created without ever leaving a half-built directory, and the locks that keep
//! commands from breaking each other or a running site.

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use cardsgalore_keyring::{fsync_dir, KEYRING_FILE};
use rand::RngCore;

use crate::error::StoreError;

const DB_FILE: &str = "cardsgalore.db";
const ADMIN_LOCK: &str = "admin.lock";
const SERVICE_LOCK: &str = "service.lock";

#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn keyring_path(&self) -> PathBuf {
        self.root.join(KEYRING_FILE)
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    /// Fails with a clear message unless this directory holds a keyring.
    pub fn require_initialized(&self) -> Result<(), StoreError> {
        if self.keyring_path().is_file() {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!(
                "{} is not a Cards Galore data directory (no {KEYRING_FILE}); run `cardsgalore init` first",
                self.root.display()
            )))
        }
    }

    /// True when the directory does not exist or is empty.
    pub fn is_vacant(&self) -> Result<bool, StoreError> {
        match fs::read_dir(&self.root) {
            Ok(mut entries) => Ok(entries.next().is_none()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(StoreError::io(&self.root)(e)),
        }
    }

    /// Builds a new data directory in a hidden sibling and renames it into place only when
    /// `build` succeeded, so a failure or a crash never leaves a half-built directory.
    /// The target must not exist, or be an empty directory.
    pub fn create_with<T>(
        &self,
        build: impl FnOnce(&DataDir) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if !self.is_vacant()? {
            return Err(StoreError::Invalid(format!(
                "{} already exists and is not empty; refusing to touch it",
                self.root.display()
            )));
        }
        let parent = match self.root.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(StoreError::io(&parent))?;
        remove_stale_siblings(&self.root, "new");
        let staging = DataDir::new(temp_sibling(&self.root, "new"));
        make_private_dir(&staging.root)?;
        let result = build(&staging).and_then(|value| {
            fsync_dir(&staging.root).map_err(StoreError::io(&staging.root))?;
            // rename(2) replaces an empty directory atomically.
            fs::rename(&staging.root, &self.root).map_err(StoreError::io(&self.root))?;
            fsync_dir(&parent).map_err(StoreError::io(&parent))?;
            Ok(value)
        });
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging.root);
        }
        result
    }

    /// Shared lock taken by every command that reads the database.
    pub fn lock_shared(&self) -> Result<DirLock, StoreError> {
        let file = self.lock_file(ADMIN_LOCK)?;
        file.lock_shared()
            .map_err(StoreError::io(self.root.join(ADMIN_LOCK)))?;
        Ok(DirLock { _file: file })
    }

    /// Exclusive lock taken by commands that change the keyring or the database file.
    pub fn lock_exclusive(&self) -> Result<DirLock, StoreError> {
        let file = self.lock_file(ADMIN_LOCK)?;
        file.lock()
            .map_err(StoreError::io(self.root.join(ADMIN_LOCK)))?;
        Ok(DirLock { _file: file })
    }

    /// The lock the site holds while it serves. Commands that would break a running site
    /// (key rotation, restore, migrations) take it too, and refuse when it is held.
    pub fn lock_service(&self, purpose: &str) -> Result<DirLock, StoreError> {
        let file = self.lock_file(SERVICE_LOCK)?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Busy(format!(
                "the site is running from {}; stop it before {purpose}",
                self.root.display()
            ))),
            Err(TryLockError::Error(e)) => Err(StoreError::io(self.root.join(SERVICE_LOCK))(e)),
        }
    }

    fn lock_file(&self, name: &str) -> Result<File, StoreError> {
        let path = self.root.join(name);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(StoreError::io(path))
    }
}

/// Creates a directory readable by its owner only.
pub(crate) fn make_private_dir(path: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(StoreError::io(path))
}

/// A fresh hidden path next to `path` for a file or directory being built:
/// `.<name>.<tag>-<pid>-<random>`, so a leftover of a killed process can be recognised.
pub(crate) fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{tag}-{}-{}",
        std::process::id(),
        hex::encode(suffix)
    ))
}

/// Removes what killed processes left of `temp_sibling(path, tag)`: entries whose process no
/// longer runs. Best effort; a failure only leaves the leftover in place.
pub(crate) fn remove_stale_siblings(path: &Path, tag: &str) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.{tag}-");
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let leftover = entry.path();
            let _ = if leftover.is_dir() {
                fs::remove_dir_all(&leftover)
            } else {
                fs::remove_file(&leftover)
            };
        }
    }
}

/// Creates an empty file readable by its owner only, so that SQLite (which gives its journal
/// files the database file's mode) never writes a world-readable file.
pub(crate) fn create_private_file(path: &Path) -> Result<(), StoreError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(StoreError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_dead_processes_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        // pid_max is at most 2^22, so this process cannot exist.
        let dead = tmp.path().join(".data.new-99999999-abcdef");
        let alive = tmp
            .path()
            .join(format!(".data.new-{}-abcdef", std::process::id()));
        let unrelated = tmp.path().join(".other.new-99999999-abcdef");
        for dir in [&dead, &alive, &unrelated] {
            fs::create_dir_all(dir.join("inner")).unwrap();
        }
        DataDir::new(&root).create_with(|_| Ok(())).unwrap();
        assert!(!dead.exists());
        assert!(alive.exists() && unrelated.exists() && root.is_dir());
    }
}
