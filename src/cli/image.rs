//! `hitless image ...`: the image catalog.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;

use super::{EXIT_NO, Format, render};
use crate::image::{CatalogImage, ImageEdit, ImageFields};
use crate::version::Version;
use crate::workflow::report::ImageReport;
use crate::workflow::service::{Service, Verified, verify_image};

#[derive(Debug, clap::Subcommand)]
pub enum ImageCmd {
    /// Copy an image file into the catalog, checksummed (SHA-256 and MD5).
    Add {
        /// Unique name; it cannot be changed later.
        #[arg(long)]
        name: String,
        /// The image file.
        #[arg(long)]
        file: PathBuf,
        /// Vendor, e.g. juniper.
        #[arg(long)]
        vendor: String,
        /// Device family, e.g. junos-qfx.
        #[arg(long)]
        family: String,
        /// Supported platforms, comma separated, e.g. qfx5110-48s,qfx10002-36q.
        #[arg(long, value_delimiter = ',', required = true)]
        platforms: Vec<String>,
        /// OS version the image installs, e.g. 18.4R2-S3.4.
        #[arg(long)]
        os_version: String,
    },
    /// List the catalog.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show one image.
    Show {
        /// Image name.
        name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Change an image's vendor, family, platforms or version (not its name).
    Edit {
        /// Image name.
        name: String,
        /// Names are immutable; given, this is refused with an explanation.
        #[arg(long = "name", hide = true)]
        new_name: Option<String>,
        /// New vendor.
        #[arg(long)]
        vendor: Option<String>,
        /// New family.
        #[arg(long)]
        family: Option<String>,
        /// New platforms, comma separated (replaces the list).
        #[arg(long, value_delimiter = ',')]
        platforms: Option<Vec<String>>,
        /// New OS version.
        #[arg(long)]
        os_version: Option<String>,
    },
    /// Remove an image (refused while an unfinished job uses it).
    Rm {
        /// Image name.
        name: String,
    },
    /// Re-hash stored images and report corruption; exit 1 if any is corrupt, missing or
    /// unreadable (every image is checked, whatever the others give).
    Verify {
        /// One image; all when omitted.
        name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List image files in the store that no image refers to (a dry run); delete them only with
    /// --delete.
    Gc {
        /// Delete the listed files.
        #[arg(long)]
        delete: bool,
    },
}

fn parse_version(text: &str) -> anyhow::Result<Version> {
    Ok(Version::parse(text)?)
}

pub fn run(cmd: ImageCmd, state_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let service = Service::open(state_dir)?;
    match cmd {
        ImageCmd::Add { name, file, vendor, family, platforms, os_version } => {
            let fields = ImageFields { name, vendor, family, platforms, os_version: parse_version(&os_version)? };
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                    .expect("valid template"),
            );
            bar.set_message(format!("adding {}", fields.name));
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            let image = service.add_image(&fields, &file, now, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            });
            bar.finish_and_clear();
            let image = image?;
            println!(
                "added {} ({}, sha256 {})",
                image.fields.name,
                render::bytes(image.digest.size_bytes as f64),
                image.digest.sha256
            );
        }
        ImageCmd::List { format } => {
            let images = service.images()?;
            match format {
                Format::Json => print_json(&images.iter().map(ImageReport::from).collect::<Vec<_>>())?,
                Format::Table => {
                    let mut table =
                        render::table(&["Name", "Vendor", "Family", "Platforms", "Version", "Size", "Uploaded"]);
                    for image in &images {
                        table.add_row(vec![
                            image.fields.name.clone(),
                            image.fields.vendor.clone(),
                            image.fields.family.clone(),
                            image.fields.platforms.join(", "),
                            image.fields.os_version.to_string(),
                            render::bytes(image.digest.size_bytes as f64),
                            render::utc(image.uploaded_unix),
                        ]);
                    }
                    println!("{table}");
                }
            }
        }
        ImageCmd::Show { name, format } => {
            let image = service.image(&name)?;
            match format {
                Format::Json => print_json(&ImageReport::from(&image))?,
                Format::Table => print!("{}", show(&image)),
            }
        }
        ImageCmd::Edit { name, new_name, vendor, family, platforms, os_version } => {
            if let Some(new_name) = new_name {
                bail!(
                    "image names are immutable: to call {name} {new_name}, add the file again as {new_name} and remove {name}"
                );
            }
            let os_version = os_version.as_deref().map(parse_version).transpose()?;
            let edit = ImageEdit { vendor, family, platforms, os_version };
            if edit.is_empty() {
                bail!("nothing to change: give --vendor, --family, --platforms or --os-version");
            }
            let image = service.edit_image(&name, &edit)?;
            print!("{}", show(&image));
        }
        ImageCmd::Rm { name } => {
            service.remove_image(&name)?;
            println!("removed {name}");
        }
        ImageCmd::Verify { name, format } => return verify(&service, name.as_deref(), format),
        ImageCmd::Gc { delete } => {
            let files = service.unreferenced_files(delete)?;
            let total: u64 = files.iter().map(|f| f.1).sum();
            for (path, size) in &files {
                println!("{}  {}", path.display(), render::bytes(*size as f64));
            }
            let verb = if delete { "deleted" } else { "no image refers to" };
            println!("{verb} {} file(s), {}", files.len(), render::bytes(total as f64));
            if !delete && !files.is_empty() {
                println!("nothing was deleted; `hitless image gc --delete` deletes them");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(service: &Service, name: Option<&str>, format: Format) -> anyhow::Result<ExitCode> {
    let images = match name {
        Some(name) => vec![service.image(name)?],
        None => service.images()?,
    };
    let mut results = Vec::with_capacity(images.len());
    for image in &images {
        let (status, detail) = match verify_image(image) {
            Ok(Verified::Intact) => (VerifyStatus::Ok, String::new()),
            Ok(Verified::Corrupt { expected, found }) => {
                (VerifyStatus::Corrupt, format!("sha256 is {found}, expected {expected}"))
            }
            Ok(Verified::Missing) => (VerifyStatus::Missing, format!("{} is gone", image.path.display())),
            // One image that cannot be read does not stop the others' check.
            Err(error) => (VerifyStatus::Unreadable, error.to_string()),
        };
        results.push(VerifyJson { name: image.fields.name.clone(), status, detail });
    }
    match format {
        Format::Json => print_json(&results)?,
        Format::Table => {
            for result in &results {
                let detail = if result.detail.is_empty() { String::new() } else { format!(": {}", result.detail) };
                println!("{} {}{detail}", result.name, result.status.label());
            }
        }
    }
    let bad = results.iter().filter(|r| r.status != VerifyStatus::Ok).count();
    if bad > 0 {
        eprintln!("hitless: {bad} of {} images failed verification; re-add them from a good copy", results.len());
        return Ok(ExitCode::from(EXIT_NO));
    }
    Ok(ExitCode::SUCCESS)
}

fn show(image: &CatalogImage) -> String {
    let fields = &image.fields;
    format!(
        "name:       {}\nvendor:     {}\nfamily:     {}\nplatforms:  {}\nos version: {}\nfile:       {}\nsize:       {} ({} bytes)\nsha256:     {}\nmd5:        {}\nuploaded:   {}\nstored at:  {}\n",
        fields.name,
        fields.vendor,
        fields.family,
        fields.platforms.join(", "),
        fields.os_version,
        image.file_name,
        render::bytes(image.digest.size_bytes as f64),
        image.digest.size_bytes,
        image.digest.sha256,
        image.digest.md5,
        render::utc(image.uploaded_unix),
        image.path.display()
    )
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value).context("encoding JSON")?);
    Ok(())
}

/// `image verify --format json`, one per image.
#[derive(Serialize)]
struct VerifyJson {
    name: String,
    status: VerifyStatus,
    detail: String,
}

/// An image's verdict, `ok`, `corrupt`, `missing` or `unreadable` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum VerifyStatus {
    Ok,
    Corrupt,
    Missing,
    Unreadable,
}

impl VerifyStatus {
    fn label(self) -> &'static str {
        match self {
            VerifyStatus::Ok => "OK",
            VerifyStatus::Corrupt => "CORRUPT",
            VerifyStatus::Missing => "MISSING",
            VerifyStatus::Unreadable => "UNREADABLE",
        }
    }
}
