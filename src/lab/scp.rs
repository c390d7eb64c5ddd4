//! The lab's SCP sink (`scp -t /var/tmp`): receives one file, hashing it as it arrives, and
//! records it in the device's /var/tmp (the content itself is not kept).

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::Lab;

/// Largest file accepted (a Junos image is a few GB).
const FILE_BYTES_MAX: u64 = 16 << 30;

/// Receives one file on `device` at `target`: into it when it is a directory (`/var/tmp`, the
/// home), as it when it names a file there (`scp pkg.tgz dev:/var/tmp/other.tgz`). True when a
/// file was stored.
pub async fn sink<S: AsyncRead + AsyncWrite + Unpin>(
    lab: &Lab,
    device: &str,
    target: &str,
    stream: S,
) -> std::io::Result<bool> {
    let mut stream = BufReader::new(stream);
    if lab.is_hung(device) {
        super::server::hold_silently(&mut stream).await?;
        return Ok(false);
    }
    let home = format!("/var/home/{}", super::ops::USER);
    let target = match target.trim_end_matches('/') {
        "" | "." | "~" => home.clone(),
        t if t.starts_with('/') => t.to_string(),
        t => format!("{home}/{t}"),
    };
    // An EOS switch takes files into its flash (`/mnt/flash`), a Junos one into /var/tmp.
    let flash = super::eos::FLASH.trim_end_matches('/');
    let writable = |dir: &str| {
        dir == home
            || if lab.devices_vendor(device) == crate::model::Vendor::Arista { dir == flash } else { dir == "/var/tmp" }
    };
    let is_directory = writable(&target);
    let parent = target.rsplit_once('/').map_or("", |(p, _)| p);
    if !is_directory && !writable(parent) {
        let message = format!("\x01scp: {target}: Permission denied\n");
        stream.get_mut().write_all(message.as_bytes()).await?;
        return Ok(false);
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
            return Ok(false);
        }
    };
    let path = if is_directory { format!("{target}/{name}") } else { target.clone() };
    if crate::util::file_name_problem(path.rsplit('/').next().unwrap_or("")).is_some() {
        stream.get_mut().write_all(b"\x01scp: invalid file name\n").await?;
        return Ok(false);
    }
    stream.get_mut().write_all(&[0]).await?;
    let mut hasher = super::device::LabFile::hasher();
    let mut buffer = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let want = buffer.len().min(left as usize);
        let read = stream.read(&mut buffer[..want]).await?;
        if read == 0 {
            return Ok(false); // The source went away; nothing is recorded.
        }
        hasher.update(&buffer[..read]);
        left -= read as u64;
    }
    let mut end = [0u8; 1];
    stream.read_exact(&mut end).await?;
    let file = hasher.finish(lab.now_unix());
    if let Some(state) = lab.devices.lock().expect("not poisoned").get_mut(device) {
        state.files.insert(path, file);
    }
    stream.get_mut().write_all(&[0]).await?;
    stream.get_mut().flush().await?;
    Ok(true)
}
