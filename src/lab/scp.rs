//! The lab's SCP sink (`scp -t /var/tmp`): receives one file, hashing it as it arrives, and
//! records it in the device's /var/tmp (the content itself is not kept).

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::Lab;

/// Largest file accepted (a Junos image is a few GB).
const FILE_BYTES_MAX: u64 = 16 << 30;

/// Receives one file into `directory` on `device`.
pub async fn sink<S: AsyncRead + AsyncWrite + Unpin>(
    lab: &Lab,
    device: &str,
    directory: &str,
    stream: S,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    if lab.is_hung(device) {
        return super::server::hold_silently(&mut stream).await;
    }
    stream.get_mut().write_all(&[0]).await?;
    let mut header = String::new();
    stream.read_line(&mut header).await?;
    let mut fields = header.trim_end().splitn(3, ' ');
    let (mode, size, name) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    let size: u64 = match size.parse() {
        Ok(size) if mode.starts_with('C') && size <= FILE_BYTES_MAX && !name.is_empty() && !name.contains('/') => size,
        _ => {
            stream.get_mut().write_all(b"\x02scp: protocol error: bad file header\n").await?;
            return Ok(());
        }
    };
    stream.get_mut().write_all(&[0]).await?;
    let mut hasher = super::device::LabFile::hasher();
    let mut buffer = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let want = buffer.len().min(left as usize);
        let read = stream.read(&mut buffer[..want]).await?;
        if read == 0 {
            return Ok(()); // The source went away; nothing is recorded.
        }
        hasher.update(&buffer[..read]);
        left -= read as u64;
    }
    let mut end = [0u8; 1];
    stream.read_exact(&mut end).await?;
    let path = format!("{}/{name}", directory.trim_end_matches('/'));
    let file = hasher.finish(lab.now_unix());
    if let Some(state) = lab.devices.lock().expect("not poisoned").get_mut(device) {
        state.files.insert(path, file);
    }
    stream.get_mut().write_all(&[0]).await?;
    stream.get_mut().flush().await
}
