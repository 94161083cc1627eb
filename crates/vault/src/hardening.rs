//! Process hardening at start: no core dumps, no ptrace attach, key pages kept out of swap.

use rustix::mm::{mlockall, MlockAllFlags};
use rustix::process::{
    geteuid, getrlimit, set_dumpable_behavior, setrlimit, DumpableBehavior, Resource, Rlimit,
};

/// Disables core dumps (RLIMIT_CORE 0) and ptrace attach (PR_SET_DUMPABLE 0), and locks the
/// process's memory where allowed. Returns warnings for what could not be done.
pub fn harden_process() -> Vec<String> {
    let mut warnings = Vec::new();
    let no_core = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = setrlimit(Resource::Core, no_core) {
        warnings.push(format!("cannot disable core dumps: {e}"));
    }
    if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        warnings.push(format!("cannot disable ptrace attach: {e}"));
    }
    // Locking all future memory with a small RLIMIT_MEMLOCK would make allocations fail later,
    // so only lock when the limit allows it (root, or an unlimited limit).
    let unlimited = getrlimit(Resource::Memlock).current.is_none();
    if geteuid().is_root() || unlimited {
        if let Err(e) = mlockall(MlockAllFlags::CURRENT | MlockAllFlags::FUTURE) {
            warnings.push(format!("cannot lock memory, keys may be swapped out: {e}"));
        }
    } else {
        warnings.push(
            "memory locking is not allowed (RLIMIT_MEMLOCK is limited), keys may be swapped out; set LimitMEMLOCK=infinity in the service unit".into(),
        );
    }
    warnings
}
