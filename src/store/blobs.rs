//! Image files, content-addressed: `blobs/sha256/<hex>` under the state directory.
//!
//! A file is first copied to `tmp/` under a unique name while it is hashed, synced, and only
//! then renamed to its real name inside the same transaction that records it, so a crash never
//! leaves half an image under a real name. Each staging file is locked while it is written;
//! [`clear_abandoned_staging`], run whenever the store opens, removes unlocked staging files
//! (their writer died) — hitless's own temporary files, and nothing else. An image file no image
//! refers to is never deleted behind the operator's back (the database may have been emptied,
//! replaced or restored from a backup): `hitless image gc` lists them ([`unreferenced`]) and
//! deletes them only when asked ([`delete_unreferenced`]); `image rm` deletes its own file when no
//! other image shares it.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::{Store, StoreError};
use crate::image::Digest;
use crate::util::hex;

/// Bytes read per step while copying and hashing.
const CHUNK_BYTES: usize = 1 << 20;

/// A file copied into `tmp/`, hashed and synced, waiting to be committed.
pub struct Staged {
    path: PathBuf,
    /// Held (and locked) until the staged file is committed or dropped.
    _file: File,
    /// The content's digest.
    pub digest: Digest,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { what, path, source }
}

/// Where the blob with this SHA-256 lives.
pub fn blob_path(state_dir: &Path, sha256: &str) -> PathBuf {
    state_dir.join("blobs").join("sha256").join(sha256)
}

/// Free space `image add` leaves beyond the image itself.
const SPARE_BYTES: u64 = 64 * 1024 * 1024;

fn tmp_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("tmp")
}

/// Copies `source` into the staging area, hashing it; `progress(done, total)` is called as it
/// goes.
pub fn stage(store: &Store, source: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Staged, StoreError> {
    // Looked at before opening: opening a FIFO blocks, and a device (/dev/zero) never ends.
    let kind = fs::metadata(source).map_err(io("cannot read image file", source))?;
    if !kind.is_file() {
        return Err(StoreError::NotAFile { path: source.to_path_buf() });
    }
    let mut input = File::open(source).map_err(io("cannot read image file", source))?;
    let total = input.metadata().map_err(io("cannot read image file", source))?.len();
    let dir = tmp_dir(&store.dir);
    fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    // Room for the copy, and some to spare for the database and the journal.
    let available = fs4::available_space(&dir).map_err(io("cannot read the free space of", &dir))?;
    let needed = total.saturating_add(SPARE_BYTES);
    if available < needed {
        return Err(StoreError::NoSpace { path: dir, needed, available });
    }
    let unique = format!("add-{}-{}.partial", std::process::id(), rand_suffix());
    let path = dir.join(unique);
    let mut file = File::options().write(true).create_new(true).open(&path).map_err(io("cannot create", &path))?;
    file.lock().map_err(io("cannot lock", &path))?;
    let digest =
        hash_copy(&mut input, Some(&mut file), &mut |done| progress(done, total)).map_err(|(side, e)| match side {
            Side::Read => io("cannot read image file", source)(e),
            Side::Write => io("cannot write", &path)(e),
        })?;
    file.sync_all().map_err(io("cannot sync", &path))?;
    Ok(Staged { path, _file: file, digest })
}

/// Moves a staged file to its content address. Call inside the transaction that records it.
pub fn commit(state_dir: &Path, staged: &Staged) -> Result<PathBuf, StoreError> {
    let target = blob_path(state_dir, &staged.digest.sha256);
    let parent = target.parent().expect("blob paths have a parent");
    fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
    fs::rename(&staged.path, &target).map_err(io("cannot move image into place at", &target))?;
    File::open(parent).and_then(|d| d.sync_all()).map_err(io("cannot sync", parent))?;
    Ok(target)
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Committed files were renamed away; anything left is an abandoned copy. Errors here only
        // leave a file that the next garbage collection removes.
        let _ = fs::remove_file(&self.path);
    }
}

/// Hashes a file already in the store.
pub fn hash_file(path: &Path) -> Result<Digest, StoreError> {
    let mut input = File::open(path).map_err(io("cannot read", path))?;
    hash_copy(&mut input, None, &mut |_| {}).map_err(|(_, e)| io("cannot read", path)(e))
}

/// Which side of a copy failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

/// Reads `input` to its end, hashing it (SHA-256 and MD5) and copying it to `output` if given;
/// `progress` gets the bytes done so far. An error says whether reading or writing failed.
fn hash_copy(
    input: &mut File,
    mut output: Option<&mut File>,
    progress: &mut dyn FnMut(u64),
) -> Result<Digest, (Side, std::io::Error)> {
    let (mut sha, mut md5) = (Sha256::new(), Md5::new());
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut size_bytes = 0u64;
    loop {
        let read = input.read(&mut buffer).map_err(|e| (Side::Read, e))?;
        if read == 0 {
            break;
        }
        sha.update(&buffer[..read]);
        md5.update(&buffer[..read]);
        if let Some(output) = output.as_deref_mut() {
            output.write_all(&buffer[..read]).map_err(|e| (Side::Write, e))?;
        }
        size_bytes += read as u64;
        progress(size_bytes);
    }
    Ok(Digest { sha256: hex(&sha.finalize()), md5: hex(&md5.finalize()), size_bytes })
}

/// Removes staging files whose writer is gone and blobs no image refers to. Runs under the
/// database's write lock, so it never races an `add` between its rename and its commit.
pub fn clear_abandoned_staging(store: &Store) -> Result<(), StoreError> {
    for entry in read_dir_or_empty(&tmp_dir(&store.dir))? {
        // Only hitless's own staging files, as `stage` names them.
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(name.starts_with("add-") && name.ends_with(".partial")) {
            continue;
        }
        let Ok(file) = File::options().write(true).open(&entry) else { continue };
        // A live writer holds the lock; only an abandoned file can be locked here.
        if file.try_lock().is_ok() {
            fs::remove_file(&entry).map_err(io("cannot remove", &entry))?;
        }
    }
    Ok(())
}

/// Image files under `blobs/sha256/` that no image in the catalog refers to, with their sizes.
pub fn unreferenced(store: &Store) -> Result<Vec<(PathBuf, u64)>, StoreError> {
    let referenced = super::catalog::referenced_blobs(&store.conn).map_err(|e| store.sqlite(e))?;
    let mut files = Vec::new();
    for entry in read_dir_or_empty(&store.dir.join("blobs").join("sha256"))? {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !referenced.contains(&name) {
            let size = fs::metadata(&entry).map(|m| m.len()).unwrap_or(0);
            files.push((entry, size));
        }
    }
    files.sort();
    Ok(files)
}

/// Deletes the image files no image refers to, checked again under the write lock (an image
/// added meanwhile keeps its file). Returns what was deleted.
pub fn delete_unreferenced(store: &mut Store) -> Result<Vec<(PathBuf, u64)>, StoreError> {
    let db_path = store.db_path.clone();
    let sqlite = |source| StoreError::Sqlite { path: db_path.clone(), source };
    let tx = store.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite)?;
    let referenced = super::catalog::referenced_blobs(&tx).map_err(sqlite)?;
    let mut deleted = Vec::new();
    for entry in read_dir_or_empty(&store.dir.join("blobs").join("sha256"))? {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !referenced.contains(&name) {
            let size = fs::metadata(&entry).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&entry).map_err(io("cannot remove", &entry))?;
            deleted.push((entry, size));
        }
    }
    tx.commit().map_err(sqlite)?;
    deleted.sort();
    Ok(deleted)
}

fn read_dir_or_empty(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(StoreError::Io { what: "cannot list", path: dir.to_path_buf(), source }),
    }
}

fn rand_suffix() -> u64 {
    use rand::Rng;
    // Uniqueness, not secrecy: the thread generator is seeded by the operating system.
    rand::rng().next_u64()
}
