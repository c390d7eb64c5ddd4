//! Selection: which device gets which image, and which devices are skipped and why.
//!
//! This is the "Select images and devices" step of the workflow. Only compatible devices take an
//! image; devices already at the target version are skipped with the reason, as are devices an
//! `all` or `{role: ...}` selection reaches that the image does not fit. A device the operator
//! named explicitly that the image does not fit is an error, not a silent skip.

use serde::{Deserialize, Serialize};

use crate::image::Image;
use crate::model::{DeviceId, Fabric, Role};

/// The devices one assignment covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSelection {
    /// Every device.
    All,
    /// Every device with this role.
    Role(Role),
    /// These devices, named explicitly.
    Devices(Vec<DeviceId>),
}

/// One image for a selection of devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assign {
    /// Index into the image list.
    pub image: usize,
    /// The devices.
    pub devices: DeviceSelection,
}

/// A device that will be upgraded, and to which image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The device.
    pub device: DeviceId,
    /// Index into the image list.
    pub image: usize,
}

/// A device that is part of the selection but will not be upgraded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Device name.
    pub device: String,
    /// Why, for the operator.
    pub reason: String,
}

/// The outcome of selection: targets in fabric order, and skipped devices in fabric order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Devices to upgrade.
    pub targets: Vec<Target>,
    /// Devices not upgraded, with the reason.
    pub skipped: Vec<(DeviceId, String)>,
}

/// A selection that cannot be honoured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectError {
    /// Which assignment (index into the list given to [`select`]).
    pub assign: usize,
    /// Which device of it, if the problem is about one device.
    pub device: Option<DeviceId>,
    /// What is wrong.
    pub message: String,
}

/// Resolves assignments into targets and skipped devices. Returns every problem found.
pub fn select(fabric: &Fabric, images: &[Image], assigns: &[Assign]) -> Result<Selection, Vec<SelectError>> {
    // Which assignment claimed each device first, so a second claim can name the first.
    let mut claimed: Vec<Option<(usize, bool)>> = vec![None; fabric.len()];
    let mut errors = Vec::new();
    for (index, assign) in assigns.iter().enumerate() {
        let explicit = matches!(assign.devices, DeviceSelection::Devices(_));
        for device in members(fabric, &assign.devices) {
            match claimed[device.index()] {
                Some((first, _)) if first != index => errors.push(SelectError {
                    assign: index,
                    device: Some(device),
                    message: format!(
                        "device {} is already assigned image {} by assign entry {}; give each device one image",
                        fabric.device(device).name,
                        images[assigns[first].image].name,
                        first + 1
                    ),
                }),
                Some(_) => {}
                None => claimed[device.index()] = Some((index, explicit)),
            }
        }
    }
    let mut selection = Selection::default();
    for (id, device) in fabric.iter() {
        let Some((index, explicit)) = claimed[id.index()] else {
            continue;
        };
        let image = &images[assigns[index].image];
        if let Err(why) = image.fits(device) {
            if explicit {
                errors.push(SelectError { assign: index, device: Some(id), message: why.to_string() });
            } else {
                selection.skipped.push((id, format!("not applicable: {why}")));
            }
        } else if device.version == image.version {
            selection.skipped.push((id, format!("already running {}", image.version)));
        } else {
            selection.targets.push(Target { device: id, image: assigns[index].image });
        }
    }
    if errors.is_empty() { Ok(selection) } else { Err(errors) }
}

fn members<'a>(fabric: &'a Fabric, selection: &'a DeviceSelection) -> Box<dyn Iterator<Item = DeviceId> + 'a> {
    match selection {
        DeviceSelection::All => Box::new(fabric.iter().map(|(id, _)| id)),
        DeviceSelection::Role(role) => Box::new(fabric.iter().filter(move |(_, d)| d.role == *role).map(|(id, _)| id)),
        DeviceSelection::Devices(ids) => Box::new(ids.iter().copied()),
    }
}
