//! `GET /api/v1/jobs/{id}/events`: a job's journal as server-sent events. Each event's `id` is
//! its position in the journal and its data the JSON object `hitless upgrade --format json`
//! prints for the same state change; a client that reconnects with `Last-Event-ID` (browsers do
//! it themselves) gets every event after that one, none twice. The stream first sends what was
//! journaled already, then each new event as it is journaled: at once for jobs this process
//! runs, within half a second for jobs another process runs (the journal is read again then).
//! A finished or cancelled job's stream ends with an `end` event; others stay open (a paused
//! job may be approved, a halted one resumed).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;

use super::auth::ApiUser;
use super::{ApiError, Shared};
use crate::journal::{DriverKind, Event, JobState};
use crate::workflow::report::EventReport;

/// The most streams open at once; more are refused (503) rather than starving the jobs.
const MAX_STREAMS: usize = 1000;

/// Events read from the journal at a time.
const BATCH: i64 = 500;

/// How often a stream reads the journal when nothing in this process said it changed (jobs run
/// by another process: the CLI, another console).
const POLL: Duration = Duration::from_millis(500);

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Counts an open stream; uncounted when the stream is dropped (the client went away).
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Follow {
    app: Shared,
    job: String,
    simulated: bool,
    after: i64,
    pending: VecDeque<Event>,
    changes: tokio::sync::watch::Receiver<u64>,
    ended: bool,
    _slot: Slot,
}

/// `?after=N`: as `Last-Event-ID` (which wins when both are given).
#[derive(Debug, serde::Deserialize)]
pub struct After {
    #[serde(default)]
    after: Option<i64>,
}

pub async fn stream(
    State(app): State<Shared>,
    ApiUser(_): ApiUser,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<After>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let job = app.service.job(&id)?;
    let last = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::bad("Last-Event-ID is not an event id (a journal position, a whole number)").at("Last-Event-ID")
        })?),
        None => None,
    };
    let after = last.or(query.after).unwrap_or(0).max(0);
    if OPEN.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        OPEN.fetch_sub(1, Ordering::SeqCst);
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_STREAMS} event streams are open already; close one, or poll GET /api/v1/jobs/{id}"),
        ));
    }
    let follow = Follow {
        changes: app.runner.changes(),
        app: Arc::clone(&app),
        job: id,
        simulated: job.driver == DriverKind::Virtual,
        after,
        pending: VecDeque::new(),
        ended: false,
        _slot: Slot,
    };
    let events = futures_util::stream::unfold(follow, |mut follow| async move {
        loop {
            if let Some(event) = follow.pending.pop_front() {
                follow.after = event.seq;
                let report = EventReport::new(&event, Some(&follow.job), follow.simulated);
                let data = serde_json::to_string(&report).expect("events encode");
                return Some((Ok(SseEvent::default().id(event.seq.to_string()).data(data)), follow));
            }
            if follow.ended {
                return None;
            }
            // Seen before reading, so a change made while reading is not missed.
            follow.changes.borrow_and_update();
            let read = follow.app.service.events_after(&follow.job, follow.after, BATCH);
            match read {
                Ok(events) if !events.is_empty() => {
                    follow.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, job = follow.job, "cannot read the journal for a stream");
                    return None;
                }
            }
            let state = follow.app.service.job(&follow.job).map(|j| j.state);
            if matches!(state, Ok(JobState::Finished | JobState::Cancelled)) {
                // Once more: the last events may have been journaled with the state.
                let rest = follow.app.service.events_after(&follow.job, follow.after, BATCH).unwrap_or_default();
                if rest.is_empty() {
                    follow.ended = true;
                    let state = state.map(JobState::as_str).unwrap_or_default();
                    let data = serde_json::json!({"job": follow.job, "state": state}).to_string();
                    return Some((Ok(SseEvent::default().event("end").data(data)), follow));
                }
                follow.pending.extend(rest);
                continue;
            }
            tokio::select! {
                _ = follow.changes.changed() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
