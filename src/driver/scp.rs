//! The SCP upload protocol (the source side of `scp -t DIR`), over any byte stream: an SSH exec
//! channel to a switch, or an in-memory pipe to the lab.
//!
//! ```text
//! sink: \0      source: C0644 <size> <name>\n      sink: \0
//! source: <size bytes> \0                           sink: \0
//! ```
//! A sink that answers `\x01message` or `\x02message` instead of `\0` refuses, with a message.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes copied per step.
const CHUNK_BYTES: usize = 1 << 20;
/// Longest refusal message read from a sink.
const MESSAGE_BYTES_MAX: usize = 1024;

fn error(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

async fn ack<S: AsyncRead + Unpin>(stream: &mut S, during: &str) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).await.map_err(|e| error(format!("scp: no answer {during}: {e}")))?;
    if byte[0] == 0 {
        return Ok(());
    }
    let mut message = Vec::new();
    while message.len() < MESSAGE_BYTES_MAX {
        if stream.read_exact(&mut byte).await.is_err() || byte[0] == b'\n' {
            break;
        }
        message.push(byte[0]);
    }
    Err(error(format!("scp refused {during}: {}", String::from_utf8_lossy(&message).trim())))
}

/// Sends `local` as `name` to an SCP sink on `stream`.
pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, local: &Path, name: &str) -> std::io::Result<()> {
    if let Some(problem) = crate::util::file_name_problem(name) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("image file name {name:?} {problem}; re-add the image from a file with a plain name"),
        ));
    }
    let mut file =
        tokio::fs::File::open(local).await.map_err(|e| error(format!("cannot read {}: {e}", local.display())))?;
    let size = file.metadata().await?.len();
    ack(stream, "before the transfer").await?;
    stream.write_all(format!("C0644 {size} {name}\n").as_bytes()).await?;
    ack(stream, "to the file header").await?;
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut sent = 0u64;
    while sent < size {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Err(error(format!("{} shrank while being copied", local.display())));
        }
        stream.write_all(&buffer[..read]).await?;
        sent += read as u64;
    }
    stream.write_all(&[0]).await?;
    stream.flush().await?;
    ack(stream, "after the data").await?;
    stream.shutdown().await
}
