//! The control socket: `control.sock` in the data directory (mode 0600), one JSON request
//! line and one JSON response line per connection. Only the service's own user or root may
//! talk to it (checked with the peer's credentials).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use zeroize::Zeroizing;

use cardsgalore_store::DataDir;

use crate::vault::{Status, Vault};

pub const CONTROL_SOCKET: &str = "control.sock";
const MAX_REQUEST: usize = 16 * 1024;

/// A request as the service reads it.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Incoming {
    Unseal { passphrase: SecretString },
    Seal,
    Status,
}

/// A request as a client sends it.
pub enum ControlRequest<'a> {
    Unseal(&'a SecretString),
    Seal,
    Status,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ControlResponse {
    pub ok: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// Accepts control connections until the task is dropped.
pub async fn serve_control_socket(vault: Arc<Vault>) -> std::io::Result<()> {
    let path = vault.data_dir().root().join(CONTROL_SOCKET);
    // A socket left by a killed service: nobody answers on it, so replace it.
    if path.exists() && UnixStream::connect(&path).await.is_err() {
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let me = rustix::process::getuid();
    loop {
        let (stream, _) = listener.accept().await?;
        let vault = vault.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, vault, me).await {
                tracing::warn!("control connection: {e}");
            }
        });
    }
}

async fn handle(
    mut stream: UnixStream,
    vault: Arc<Vault>,
    me: rustix::process::Uid,
) -> std::io::Result<()> {
    let cred = stream.peer_cred()?;
    let peer = format!(
        "uid={} pid={}",
        cred.uid(),
        cred.pid().map(|p| p.to_string()).unwrap_or_default()
    );
    let response = if cred.uid() != me.as_raw() && cred.uid() != 0 {
        ControlResponse {
            ok: false,
            message: "permission denied: only the service's user or root may control it".into(),
            status: None,
        }
    } else {
        let mut buf = Zeroizing::new(Vec::new());
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            (&mut stream)
                .take(MAX_REQUEST as u64 + 1)
                .read_to_end(&mut buf),
        )
        .await;
        match read {
            Ok(Ok(n)) if n <= MAX_REQUEST => dispatch(&buf, vault, peer).await,
            Ok(Ok(_)) => failure("request too large"),
            Ok(Err(e)) => return Err(e),
            Err(_) => failure("request timed out"),
        }
    };
    let mut line = serde_json::to_vec(&response).unwrap_or_default();
    line.push(b'\n');
    stream.write_all(&line).await?;
    stream.shutdown().await
}

async fn dispatch(buf: &[u8], vault: Arc<Vault>, peer: String) -> ControlResponse {
    let request: Incoming = match serde_json::from_slice(buf) {
        Ok(r) => r,
        Err(_) => return failure("malformed request"),
    };
    match request {
        Incoming::Unseal { passphrase } => {
            let outcome = tokio::task::spawn_blocking(move || {
                vault.unseal(&passphrase, "control socket", &peer)
            })
            .await;
            match outcome {
                Ok(Ok(slot)) => ControlResponse {
                    ok: true,
                    message: format!("unsealed with slot '{slot}'"),
                    status: None,
                },
                Ok(Err(e)) => failure(&e.to_string()),
                Err(_) => failure("the unseal task failed"),
            }
        }
        Incoming::Seal => {
            let was = vault.seal(&peer);
            ControlResponse {
                ok: true,
                message: if was { "sealed" } else { "already sealed" }.into(),
                status: None,
            }
        }
        Incoming::Status => ControlResponse {
            ok: true,
            message: String::new(),
            status: Some(vault.status()),
        },
    }
}

fn failure(message: &str) -> ControlResponse {
    ControlResponse {
        ok: false,
        message: message.to_string(),
        status: None,
    }
}

/// Sends one request to the service running from `dir` (blocking; for the command line).
pub fn request(dir: &DataDir, req: ControlRequest<'_>) -> std::io::Result<ControlResponse> {
    let path = dir.root().join(CONTROL_SOCKET);
    let mut stream = std::os::unix::net::UnixStream::connect(&path)?;
    let body = Zeroizing::new(match req {
        ControlRequest::Unseal(secret) => {
            serde_json::json!({"op": "unseal", "passphrase": secret.expose_secret()}).to_string()
        }
        ControlRequest::Seal => r#"{"op":"seal"}"#.to_string(),
        ControlRequest::Status => r#"{"op":"status"}"#.to_string(),
    });
    stream.write_all(body.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}
