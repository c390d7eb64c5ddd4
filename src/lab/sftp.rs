//! The lab's SFTP subsystem: what OpenSSH's `scp` (which speaks SFTP by default since 9.0) and
//! `sftp` need to put an image on a device — paths resolved against the user's home, the
//! directories `/var/tmp` and the home, files written (hashed as they arrive, in order, however
//! the client pipelines them), listed, stat'ed and removed. Reading a file back is refused: the
//! lab keeps checksums, not contents.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use russh_sftp::protocol::{Attrs, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version};

use super::Lab;
use super::device::{FileHasher, LabFile};
use super::ops::USER;

/// Bytes a client may send ahead of the first gap before the upload is refused.
const OUT_OF_ORDER_MAX: u64 = 64 << 20;

/// One file being written.
struct Upload {
    path: String,
    hasher: FileHasher,
    next: u64,
    /// Chunks that arrived before the bytes in front of them.
    ahead: BTreeMap<u64, Vec<u8>>,
    ahead_bytes: u64,
}

/// One SFTP session with one device.
pub struct Session {
    lab: Arc<Lab>,
    device: String,
    uploads: HashMap<String, Upload>,
    listings: HashMap<String, Option<Vec<File>>>,
    next_handle: u64,
}

impl Session {
    /// A session with `device`.
    pub fn new(lab: Arc<Lab>, device: &str) -> Session {
        Session { lab, device: device.to_string(), uploads: HashMap::new(), listings: HashMap::new(), next_handle: 1 }
    }

    fn home() -> String {
        format!("/var/home/{USER}")
    }

    /// An absolute, normalised path.
    fn resolve(path: &str) -> String {
        let joined = if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", Self::home()) };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        format!("/{}", parts.join("/"))
    }

    fn is_directory(path: &str) -> bool {
        matches!(path, "/" | "/var" | "/var/tmp" | "/var/home") || path == Self::home()
    }

    fn handle(&mut self) -> String {
        self.next_handle += 1;
        format!("h{}", self.next_handle)
    }

    fn directory_attributes() -> FileAttributes {
        FileAttributes { permissions: Some(0o040_755), size: Some(512), ..FileAttributes::empty() }
    }

    fn file_attributes(file: &LabFile) -> FileAttributes {
        FileAttributes {
            permissions: Some(0o100_644),
            size: Some(file.size),
            mtime: u32::try_from(file.written_unix).ok(),
            atime: u32::try_from(file.written_unix).ok(),
            ..FileAttributes::empty()
        }
    }

    fn attributes(&self, path: &str) -> Result<FileAttributes, StatusCode> {
        if Self::is_directory(path) {
            return Ok(Self::directory_attributes());
        }
        let devices = self.lab.devices.lock().expect("not poisoned");
        let state = devices.get(&self.device).ok_or(StatusCode::NoSuchFile)?;
        state.files.get(path).map(Self::file_attributes).ok_or(StatusCode::NoSuchFile)
    }

    fn ok(id: u32) -> Status {
        Status { id, status_code: StatusCode::Ok, error_message: "Ok".into(), language_tag: "en-US".into() }
    }
}

impl russh_sftp::server::Handler for Session {
    type Error = StatusCode;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported
    }

    async fn init(&mut self, _version: u32, _extensions: HashMap<String, String>) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let path = Self::resolve(&path);
        Ok(Name { id, files: vec![File::dummy(path)] })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let attrs = self.attributes(&Self::resolve(&path))?;
        Ok(Attrs { id, attrs })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        self.stat(id, path).await
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let path = Self::resolve(&filename);
        if !pflags.contains(OpenFlags::WRITE) {
            // The lab keeps no contents to read back.
            return Err(StatusCode::PermissionDenied);
        }
        let parent = path.rsplit_once('/').map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        if Self::is_directory(&path) || !(parent == "/var/tmp" || parent == Self::home()) {
            return Err(StatusCode::PermissionDenied);
        }
        if crate::util::file_name_problem(path.rsplit('/').next().unwrap_or("")).is_some() {
            return Err(StatusCode::Failure);
        }
        let handle = self.handle();
        let upload = Upload { path, hasher: LabFile::hasher(), next: 0, ahead: BTreeMap::new(), ahead_bytes: 0 };
        self.uploads.insert(handle.clone(), upload);
        Ok(Handle { id, handle })
    }

    async fn write(&mut self, id: u32, handle: String, offset: u64, data: Vec<u8>) -> Result<Status, Self::Error> {
        let upload = self.uploads.get_mut(&handle).ok_or(StatusCode::Failure)?;
        if offset < upload.next {
            return Err(StatusCode::Failure); // Rewriting what was written: not a copy.
        }
        if offset > upload.next {
            upload.ahead_bytes += data.len() as u64;
            if upload.ahead_bytes > OUT_OF_ORDER_MAX {
                return Err(StatusCode::Failure);
            }
            upload.ahead.insert(offset, data);
            return Ok(Self::ok(id));
        }
        upload.hasher.update(&data);
        upload.next += data.len() as u64;
        while let Some(chunk) = upload.ahead.remove(&upload.next) {
            upload.ahead_bytes -= chunk.len() as u64;
            upload.hasher.update(&chunk);
            upload.next += chunk.len() as u64;
        }
        Ok(Self::ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.listings.remove(&handle);
        let Some(upload) = self.uploads.remove(&handle) else { return Ok(Self::ok(id)) };
        if !upload.ahead.is_empty() {
            return Err(StatusCode::Failure); // A gap was never filled.
        }
        let file = upload.hasher.finish(self.lab.now_unix());
        if let Some(state) = self.lab.devices.lock().expect("not poisoned").get_mut(&self.device) {
            state.files.insert(upload.path, file);
        }
        Ok(Self::ok(id))
    }

    async fn fsetstat(&mut self, id: u32, _handle: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        Ok(Self::ok(id))
    }

    async fn setstat(&mut self, id: u32, path: String, _attrs: FileAttributes) -> Result<Status, Self::Error> {
        self.attributes(&Self::resolve(&path))?;
        Ok(Self::ok(id))
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let upload = self.uploads.get(&handle).ok_or(StatusCode::Failure)?;
        let attrs = FileAttributes { permissions: Some(0o100_644), size: Some(upload.next), ..FileAttributes::empty() };
        Ok(Attrs { id, attrs })
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = Self::resolve(&path);
        if !Self::is_directory(&path) {
            return Err(StatusCode::NoSuchFile);
        }
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let files: Vec<File> = {
            let devices = self.lab.devices.lock().expect("not poisoned");
            let state = devices.get(&self.device).ok_or(StatusCode::NoSuchFile)?;
            state
                .files
                .iter()
                .filter_map(|(p, f)| p.strip_prefix(&prefix).filter(|n| !n.contains('/')).map(|n| (n.to_string(), f)))
                .map(|(name, f)| File::new(name, Self::file_attributes(f)))
                .collect()
        };
        let handle = self.handle();
        self.listings.insert(handle.clone(), Some(files));
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.listings.get_mut(&handle).and_then(Option::take) {
            Some(files) => Ok(Name { id, files }),
            None => Err(StatusCode::Eof),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        let path = Self::resolve(&filename);
        let removed = self
            .lab
            .devices
            .lock()
            .expect("not poisoned")
            .get_mut(&self.device)
            .and_then(|state| state.files.remove(&path));
        match removed {
            Some(_) => Ok(Self::ok(id)),
            None => Err(StatusCode::NoSuchFile),
        }
    }
}
