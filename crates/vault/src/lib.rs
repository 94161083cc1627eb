//! The running service's keys: whether the shop is sealed (no key in memory, maintenance
//! page) or unsealed (a pool of keyed connections and the card signing key), how it moves
//! between the two, and the channels an admin unseals it through.
//!
//! This crate owns the [`Vault`] (the one place the service's keys live), the control socket
//! (`cardsgalore unseal|seal|status` talk to it), the unseal back-off and counters, and process
//! hardening (no core dumps, no ptrace, locked memory). It must not render HTML or know
//! routes: the site asks the vault for the current [`Unsealed`] state and nothing else.

mod control;
mod hardening;
mod vault;

pub use control::{request, serve_control_socket, ControlRequest, ControlResponse, CONTROL_SOCKET};
pub use hardening::harden_process;
pub use vault::{Status, UnsealError, Unsealed, Vault, VaultCounters};
