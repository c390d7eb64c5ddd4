//! The state directory as every front end sees it: one [`Service`] per process, and through it
//! the catalog, the jobs and their journals, snapshots and staging records. Front ends (the CLI
//! today, the console next) hold a `Service` and never the store beneath it: what they may ask
//! of the state is what this module offers, so a second front end asks the same things the same
//! way.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::WorkflowError;
use super::jobs::{Cancel, Holder, Reentry, Reopened};
use crate::image::{CatalogImage, ImageEdit, ImageFields};
use crate::journal::{Event, Job, JobDevice, JobState};
use crate::scenario::Scenario;
use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError, blobs, catalog, jobs, snapshots};

pub use crate::store::catalog::{StoreCatalog, Verified};
pub use crate::store::jobs::{Lease, LeaseHolder};
pub use crate::store::snapshots::SnapshotInfo;

/// Where the state lives: `given` (`--state-dir`), else `HITLESS_HOME`, else the platform's data
/// directory.
pub fn state_dir(given: Option<&Path>) -> Result<PathBuf, WorkflowError> {
    match given {
        Some(dir) => Ok(dir.to_path_buf()),
        None => Ok(crate::store::default_dir().ok_or(StoreError::NoStateDir)?),
    }
}

/// The image catalog of the state directory `given` (as [`state_dir`]), opened only when a
/// scenario names a catalog image: a scenario with inline images never creates a store.
pub fn catalog(given: Option<&Path>) -> StoreCatalog {
    StoreCatalog::new(given.map(Path::to_path_buf))
}

/// Checks an image's stored file against its checksum (one image; a failure to read it is the
/// error, not a verdict).
pub fn verify_image(image: &CatalogImage) -> Result<Verified, WorkflowError> {
    Ok(catalog::verify(image)?)
}

/// The open state directory. Cheap to share: the store is behind one lock, taken for each
/// question and never across a wait.
pub struct Service {
    store: Arc<Mutex<Store>>,
    dir: PathBuf,
}

impl Service {
    /// Opens (creating if need be) the state directory `given`, as [`state_dir`].
    pub fn open(given: Option<&Path>) -> Result<Service, WorkflowError> {
        let dir = state_dir(given)?;
        let store = Store::open(&dir)?;
        Ok(Service { store: Arc::new(Mutex::new(store)), dir })
    }

    /// Opens the state directory for a command that only reads what was recorded: an error
    /// naming the directory when nothing ever was, instead of creating an empty store.
    pub fn open_existing(given: Option<&Path>) -> Result<Service, WorkflowError> {
        let dir = state_dir(given)?;
        if !Store::exists_in(&dir) {
            return Err(WorkflowError::NoStore { dir });
        }
        Service::open(Some(&dir))
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The catalog of this state directory, as a source of scenario images.
    pub fn catalog(&self) -> StoreCatalog {
        StoreCatalog::new(Some(self.dir.clone()))
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().expect("store lock not poisoned")
    }

    pub(crate) fn shared(&self) -> &Arc<Mutex<Store>> {
        &self.store
    }

    // Images.

    /// Every catalog image, by name.
    pub fn images(&self) -> Result<Vec<CatalogImage>, WorkflowError> {
        Ok(catalog::list(&self.store())?)
    }

    /// One catalog image.
    pub fn image(&self, name: &str) -> Result<CatalogImage, WorkflowError> {
        Ok(catalog::get(&self.store(), name)?)
    }

    /// Copies `file` into the catalog as `fields`, checksummed; `progress(done, total)` in bytes.
    pub fn add_image(
        &self,
        fields: &ImageFields,
        file: &Path,
        now_unix: i64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<CatalogImage, WorkflowError> {
        Ok(catalog::add(&mut self.store(), fields, file, now_unix, progress)?)
    }

    /// Changes an image's fields (never its name), checked as a whole before it is stored.
    pub fn edit_image(&self, name: &str, edit: &ImageEdit) -> Result<CatalogImage, WorkflowError> {
        let store = self.store();
        let mut fields = catalog::get(&store, name)?.fields;
        edit.apply(&mut fields);
        fields.validate()?;
        Ok(catalog::update(&store, name, edit)?)
    }

    /// Removes an image (refused while an unfinished job uses it).
    pub fn remove_image(&self, name: &str) -> Result<(), WorkflowError> {
        Ok(catalog::remove(&mut self.store(), name)?)
    }

    /// Stored image files no image refers to, with their sizes; `delete` deletes them.
    pub fn unreferenced_files(&self, delete: bool) -> Result<Vec<(PathBuf, u64)>, WorkflowError> {
        let mut store = self.store();
        Ok(if delete { blobs::delete_unreferenced(&mut store)? } else { blobs::unreferenced(&store)? })
    }

    // Jobs.

    /// Every job, oldest first.
    pub fn jobs(&self) -> Result<Vec<Job>, WorkflowError> {
        Ok(jobs::list(&self.store())?)
    }

    /// One job.
    pub fn job(&self, job: &str) -> Result<Job, WorkflowError> {
        Ok(jobs::get(&self.store(), job)?)
    }

    /// A job's devices with their journaled states.
    pub fn devices(&self, job: &str) -> Result<Vec<JobDevice>, WorkflowError> {
        Ok(jobs::devices(&self.store(), job)?)
    }

    /// A job's journal, or one device's part of it.
    pub fn events(&self, job: &str, device: Option<&str>) -> Result<Vec<Event>, WorkflowError> {
        Ok(jobs::events(&self.store(), job, device)?)
    }

    /// At most `limit` of a job's journal events after position `after` (a stream resuming).
    pub fn events_after(&self, job: &str, after: i64, limit: i64) -> Result<Vec<Event>, WorkflowError> {
        Ok(jobs::events_after(&self.store(), job, None, after, limit)?)
    }

    /// Asks `job` to stop, on behalf of `by`.
    pub fn cancel(&self, job: &str, by: &str, now_unix: i64) -> Result<Cancel, WorkflowError> {
        super::jobs::cancel(&mut self.store(), job, by, now_unix)
    }

    /// The job running on `scenario`'s fabric, if one is running now (not paused or halted).
    pub fn running_on(&self, scenario: &Scenario) -> Result<Option<String>, WorkflowError> {
        let open = jobs::open_on_fabric(&self.store(), &scenario.fabric.fingerprint())?;
        Ok(open.and_then(|(job, state)| (state == JobState::Running).then_some(job)))
    }

    /// The images hitless installed on `scenario`'s devices and has not rebooted into.
    pub fn pending_installs(
        &self,
        scenario: &Scenario,
    ) -> Result<std::collections::BTreeMap<String, String>, WorkflowError> {
        super::pending_installs(&self.store(), scenario)
    }

    /// The devices `scenario` upgrades whose target image `hitless stage` recorded staged on
    /// them: the plan's simulation skips their copy, as the executor will (it verifies the
    /// staged file first, and copies when it is gone).
    pub fn staged(&self, scenario: &Scenario) -> Result<Vec<crate::model::DeviceId>, WorkflowError> {
        let staged = jobs::staged(&self.store(), &scenario.fabric.fingerprint())?;
        Ok(scenario
            .selection
            .targets
            .iter()
            .filter(|t| {
                let name = &scenario.fabric.device(t.device).name;
                staged.get(name).is_some_and(|(image, _)| *image == scenario.images[t.image].name)
            })
            .map(|t| t.device)
            .collect())
    }

    /// Records that `device` of `scenario` holds `image`, staged ahead of its job.
    pub fn record_staged(
        &self,
        scenario: &Scenario,
        device: &str,
        image: &str,
        at_unix: i64,
    ) -> Result<(), WorkflowError> {
        Ok(jobs::record_staged(&self.store(), &scenario.fabric.fingerprint(), device, image, at_unix)?)
    }

    /// Takes `job` for this process (`me`), or says who has it; `force` takes it even from a
    /// process of this host that still exists. `holder` says what this host knows of a holder.
    pub fn take_lease(
        &self,
        job: &str,
        me: &LeaseHolder,
        now_unix: i64,
        holder: &dyn Fn(&Lease) -> Holder,
        force: bool,
    ) -> Result<(), WorkflowError> {
        jobs::get(&self.store(), job)?;
        super::jobs::take_lease(&mut self.store(), job, me, now_unix, holder, force)
    }

    /// Gives `job`'s lease back (held by `me`), so another process may run it.
    pub fn release_lease(&self, job: &str, me: &LeaseHolder) -> Result<(), WorkflowError> {
        Ok(jobs::release_lease(&self.store(), job, me)?)
    }

    /// Re-enters `job` (its lease taken first with [`Service::take_lease`]), on behalf of `by`;
    /// when it cannot be re-entered the lease is given back.
    pub fn reopen(
        &self,
        job: &str,
        how: Reentry,
        me: &LeaseHolder,
        by: &str,
        now_unix: i64,
    ) -> Result<Reopened, WorkflowError> {
        let catalog = self.catalog();
        let reopened = super::jobs::reopen(&mut self.store(), job, &catalog, how, by, now_unix);
        if reopened.is_err() {
            jobs::release_lease(&self.store(), job, me)?;
        }
        reopened
    }

    // Snapshots.

    /// One snapshot: what it is and each device's part.
    pub fn snapshot(&self, id: i64) -> Result<(SnapshotInfo, Vec<(String, Snapshot)>), WorkflowError> {
        Ok(snapshots::get(&self.store(), id)?)
    }

    /// Keeps `devices`' snapshots of `scenario`'s fabric under one new id, labelled.
    pub fn save_snapshot(
        &self,
        scenario: &Scenario,
        label: &str,
        at_unix: i64,
        devices: &[(&str, crate::journal::SnapshotKind, &Snapshot)],
    ) -> Result<i64, WorkflowError> {
        Ok(snapshots::save(&mut self.store(), &scenario.fabric.fingerprint(), label, None, at_unix, devices)?)
    }

    // Reports.

    /// The page of `job`: its plan, simulation, journal and the execution replayed.
    pub fn job_page(&self, job: &str) -> Result<crate::view::PageData, crate::view::ViewError> {
        let catalog = self.catalog();
        crate::view::job_page(&self.store(), job, &catalog)
    }
}
