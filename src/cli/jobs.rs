//! `hitless jobs`, `status`, `logs` and `cancel`.

use std::process::ExitCode;

use super::{Format, render};
use crate::workflow;
use crate::workflow::report::{DeviceReport, EventReport, JobReport, StatusReport};
use crate::workflow::service::Service;

pub fn list(service: &Service, format: Format) -> anyhow::Result<ExitCode> {
    let all = service.jobs()?;
    if format == Format::Json {
        let reports: Vec<JobReport> = all.iter().map(JobReport::from).collect();
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = render::table(&["Job", "Scenario", "State", "Created", "Devices done"]);
    for job in &all {
        let devices = service.devices(&job.id)?;
        let done = devices.iter().filter(|d| is_done(d.state)).count();
        table.add_row(vec![
            job.id.clone(),
            job.scenario.clone(),
            job.state.as_str().to_string(),
            render::utc(job.created_unix),
            format!("{done}/{}", devices.len()),
        ]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

/// A device "done", as the counters count it: upgraded and back in service, or skipped. Not one
/// that failed, was rolled back or cancelled: counters add up to what was really done.
pub(super) fn is_done(state: crate::journal::DeviceState) -> bool {
    state.is_done()
}

pub fn status(service: &Service, job: &str, format: Format) -> anyhow::Result<ExitCode> {
    let record = service.job(job)?;
    let devices = service.devices(job)?;
    if format == Format::Json {
        let report =
            StatusReport { job: JobReport::from(&record), devices: devices.iter().map(DeviceReport::from).collect() };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let done = devices.iter().filter(|d| is_done(d.state)).count();
    let simulated = if record.driver == crate::journal::DriverKind::Virtual { ", SIMULATED devices" } else { "" };
    println!(
        "{} ({}): {}, {done} of {} devices done{}{simulated}",
        record.id,
        record.scenario,
        record.state.as_str(),
        devices.len(),
        if record.cancel_requested { ", cancel requested" } else { "" }
    );
    if !record.reason.is_empty() {
        println!("{}", record.reason);
    }
    println!("{}", device_table(&devices));
    Ok(ExitCode::SUCCESS)
}

/// A job's devices as a table: batch, device, image, state, last message (the reason of any
/// failure).
pub fn device_table(devices: &[crate::journal::JobDevice]) -> comfy_table::Table {
    let mut table = render::table(&["Batch", "Device", "Image", "State", "Last message"]);
    for d in devices {
        table.add_row(vec![
            d.batch.to_string(),
            d.device.clone(),
            d.image.clone(),
            d.state.to_string(),
            render::inert(&d.message).into_owned(),
        ]);
    }
    table
}

pub fn logs(service: &Service, job: &str, device: Option<&str>, format: Format) -> anyhow::Result<ExitCode> {
    let simulated = service.job(job)?.driver == crate::journal::DriverKind::Virtual;
    let events = service.events(job, device)?;
    if let Some(device) = device
        && events.is_empty()
        && !service.devices(job)?.iter().any(|d| d.device == device)
    {
        anyhow::bail!("job {job} has no device {device}");
    }
    for event in &events {
        if format == Format::Json {
            println!("{}", serde_json::to_string(&EventReport::new(event, None, simulated))?);
        } else {
            let (time, clock) = (render::utc(event.at_unix), render::duration(event.at_seconds as u64));
            if event.device.is_empty() {
                // About the job itself (a takeover), not a device.
                println!("{time} [{clock:>8}] {:<12} {}", "(job)", render::inert(&event.message));
            } else {
                println!("{time} [{clock:>8}] {:<12} {}: {}", event.device, event.state, render::inert(&event.message));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cancel(service: &Service, job: &str) -> anyhow::Result<ExitCode> {
    match service.cancel(job, &super::upgrade::operator(), super::upgrade::unix_now())? {
        workflow::jobs::Cancel::Paused => {
            println!(
                "cancelled {job}, which was paused; devices not yet begun will not be (see `hitless status {job}`)"
            );
        }
        workflow::jobs::Cancel::Halted => {
            println!("cancelled {job}; devices that failed stay in maintenance mode (see `hitless status {job}`)");
        }
        workflow::jobs::Cancel::Requested => println!(
            "cancel requested for {job}: the running upgrade starts no new work and returns undrained devices to service. If no process is running it, `hitless resume {job}` completes the cancel."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `hitless diff A B`: exit 1 when any device differs beyond the tolerances.
pub fn diff(
    service: &Service,
    a: i64,
    b: i64,
    limits: &crate::health::HealthLimits,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let (first, before) = service.snapshot(a)?;
    let (second, after) = service.snapshot(b)?;
    if first.fabric != second.fabric {
        anyhow::bail!(
            "snapshots {a} ({}) and {b} ({}) are of different fabrics: there is nothing to compare",
            first.label,
            second.label
        );
    }
    if before.is_empty() {
        anyhow::bail!(
            "snapshot {a} ({}) holds no device: there is no baseline to compare snapshot {b} with",
            first.label
        );
    }
    let diffs = workflow::snapshot::compare(&before, &after, limits);
    let differing = diffs.iter().filter(|d| !d.findings.is_empty()).count();
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&diffs)?);
    } else {
        let mut table = render::table(&["Device", "Differences"]);
        for d in &diffs {
            let text = if d.findings.is_empty() { "the same".to_string() } else { d.findings.join("\n") };
            let text = render::inert_block(&text).into_owned();
            table.add_row(vec![d.device.clone(), text]);
        }
        println!(
            "Snapshot {a} ({}, {}) against {b} ({}, {}):\n{table}",
            first.label,
            render::utc(first.taken_unix),
            second.label,
            render::utc(second.taken_unix)
        );
        println!("{differing} of {} device(s) differ beyond the tolerances.", diffs.len());
    }
    Ok(if differing > 0 { ExitCode::from(super::EXIT_NO) } else { ExitCode::SUCCESS })
}
