//! The audit log: an append-only file in the data directory, outside the encrypted database so
//! that it works while the service is sealed. One JSON object per line, one line per key event.
//! Each line carries the SHA-256 of the previous line (`prev`) and its own (`hash`), so an
//! edited, inserted or deleted line breaks the chain and `verify` finds it. It never contains
//! a passphrase or key.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::datadir::DataDir;
use crate::error::StoreError;

const FILE: &str = "audit.log";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const MAX_LINE: usize = 64 * 1024;

/// One key event. `fields` are extra details (slot label, peer, byte counts): never secrets.
pub struct AuditEvent<'a> {
    pub event: &'a str,
    pub ok: bool,
    pub fields: Vec<(&'a str, String)>,
}

impl<'a> AuditEvent<'a> {
    pub fn new(event: &'a str, ok: bool) -> AuditEvent<'a> {
        AuditEvent {
            event,
            ok,
            fields: Vec::new(),
        }
    }

    pub fn with(mut self, key: &'a str, value: impl Into<String>) -> AuditEvent<'a> {
        self.fields.push((key, value.into()));
        self
    }
}

pub struct AuditLog {
    path: PathBuf,
}

/// What `verify` found.
#[derive(Debug)]
pub struct AuditReport {
    pub lines: u64,
    /// Line number and reason of the first broken link, if any.
    pub broken: Option<(u64, String)>,
}

impl AuditLog {
    pub fn for_dir(dir: &DataDir) -> AuditLog {
        AuditLog {
            path: dir.root().join(FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event, chained to the last line, and fsyncs it.
    pub fn append(&self, event: &AuditEvent<'_>) -> Result<(), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(StoreError::io(&self.path))?;
        file.lock().map_err(StoreError::io(&self.path))?;
        let (seq, prev) = last_link(&mut file).map_err(StoreError::io(&self.path))?;
        let mut line = Map::new();
        line.insert("seq".into(), Value::from(seq + 1));
        line.insert("time".into(), Value::from(crate::now_text()));
        line.insert("event".into(), Value::from(event.event));
        line.insert("ok".into(), Value::from(event.ok));
        for (key, value) in &event.fields {
            line.insert((*key).to_string(), Value::from(value.as_str()));
        }
        line.insert("prev".into(), Value::from(prev.as_str()));
        let hash = link_hash(&line);
        line.insert("hash".into(), Value::from(hash));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        file.write_all(text.as_bytes())
            .map_err(StoreError::io(&self.path))?;
        file.sync_data().map_err(StoreError::io(&self.path))?;
        Ok(())
    }

    /// Checks every link of the chain.
    pub fn verify(&self) -> Result<AuditReport, StoreError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AuditReport {
                    lines: 0,
                    broken: None,
                })
            }
            Err(e) => return Err(StoreError::io(&self.path)(e)),
        };
        let mut prev = GENESIS.to_string();
        let mut lines = 0;
        for (index, text) in BufReader::new(file).lines().enumerate() {
            let number = index as u64 + 1;
            let text = text.map_err(StoreError::io(&self.path))?;
            lines = number;
            let broken = |reason: &str| AuditReport {
                lines: number,
                broken: Some((number, reason.to_string())),
            };
            let Ok(Value::Object(mut line)) = serde_json::from_str::<Value>(&text) else {
                return Ok(broken("not a JSON object"));
            };
            if line.get("seq").and_then(Value::as_u64) != Some(number) {
                return Ok(broken(
                    "sequence number out of order (a line was removed or inserted)",
                ));
            }
            if line.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
                return Ok(broken("does not chain to the previous line"));
            }
            let Some(Value::String(hash)) = line.remove("hash") else {
                return Ok(broken("has no hash"));
            };
            if link_hash(&line) != hash {
                return Ok(broken(
                    "content does not match its hash (the line was edited)",
                ));
            }
            prev = hash;
        }
        Ok(AuditReport {
            lines,
            broken: None,
        })
    }
}

/// SHA-256 of the line without its `hash` field, in canonical (sorted-key) JSON.
fn link_hash(line: &Map<String, Value>) -> String {
    let canonical: std::collections::BTreeMap<&String, &Value> = line.iter().collect();
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// Sequence number and hash of the last line (0 and the genesis hash for an empty log).
fn last_link(file: &mut File) -> std::io::Result<(u64, String)> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok((0, GENESIS.to_string()));
    }
    let start = len.saturating_sub(MAX_LINE as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    let last = text
        .trim_end_matches('\n')
        .rsplit('\n')
        .next()
        .unwrap_or("");
    let value: Value = serde_json::from_str(last).unwrap_or(Value::Null);
    match (
        value.get("seq").and_then(Value::as_u64),
        value.get("hash").and_then(Value::as_str),
    ) {
        (Some(seq), Some(hash)) => Ok((seq, hash.to_string())),
        // A damaged last line: keep appending; verify will report the damage.
        _ => Ok((0, GENESIS.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn log() -> (tempfile::TempDir, AuditLog) {
        let tmp = tempfile::tempdir().unwrap();
        let log = AuditLog::for_dir(&DataDir::new(tmp.path()));
        for i in 0..5 {
            log.append(&AuditEvent::new("unseal", i % 2 == 0).with("slot", format!("admin{i}")))
                .unwrap();
        }
        (tmp, log)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_tmp, log) = log();
        let report = log.verify().unwrap();
        assert_eq!(report.lines, 5);
        assert!(report.broken.is_none());
    }

    #[test]
    fn edited_and_deleted_lines_are_found() {
        let (_tmp, log) = log();
        let text = fs::read_to_string(log.path()).unwrap();
        fs::write(log.path(), text.replacen("admin2", "admin9", 1)).unwrap();
        assert_eq!(log.verify().unwrap().broken.unwrap().0, 3);

        let lines: Vec<&str> = text.lines().collect();
        let without_second = [lines[0], lines[2], lines[3], lines[4]].join("\n") + "\n";
        fs::write(log.path(), without_second).unwrap();
        assert_eq!(log.verify().unwrap().broken.unwrap().0, 2);
    }
}
