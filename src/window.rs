//! Maintenance windows (`upgrade.window`): a daily time span in an IANA time zone, such as
//! 02:00–05:30 Europe/Amsterdam. An end before the start spans midnight. Times are wall-clock
//! times in the zone, so a window keeps its hours across daylight-saving changes (on a day
//! whose clock skips or repeats an hour, jiff's compatible reading of the local time applies).
//!
//! The executor asks two questions: is a time inside a window, and until when ([`Window::open_at`]);
//! when does the next one open ([`Window::next_open`]). `plan` and `simulate` ask how many
//! windows a plan needs ([`Window::windows_needed`]).

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// A daily maintenance window.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Opens at, local time.
    pub start: Time,
    /// Closes at, local time (before `start`: the next day).
    pub end: Time,
    /// The zone's name as written (or the machine's zone's name).
    pub timezone: String,
    zone: TimeZone,
}

/// Why a window cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A time that is not HH:MM.
    #[error("{0:?} is not a time of day: write HH:MM, 00:00 to 23:59")]
    Time(String),
    /// An unknown time zone.
    #[error("{0:?} is not an IANA time zone (such as Europe/Amsterdam or UTC)")]
    Zone(String),
    /// Start and end are the same time.
    #[error("the window opens and closes at the same time ({0}): it would be empty, or the whole day")]
    Empty(String),
}

/// Parses `HH:MM`.
pub fn parse_time(text: &str) -> Result<Time, WindowError> {
    let bad = || WindowError::Time(text.to_string());
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

impl Window {
    /// A window from `start` to `end` (HH:MM) in `timezone` (an IANA name; `None`: this
    /// machine's zone).
    pub fn new(start: &str, end: &str, timezone: Option<&str>) -> Result<Window, WindowError> {
        let (start, end) = (parse_time(start)?, parse_time(end)?);
        if start == end {
            return Err(WindowError::Empty(format!("{}", start.strftime("%H:%M"))));
        }
        let (zone, timezone) = match timezone {
            Some(name) => (TimeZone::get(name).map_err(|_| WindowError::Zone(name.to_string()))?, name.to_string()),
            None => {
                let zone = TimeZone::system();
                let name = zone.iana_name().unwrap_or("the machine's time zone").to_string();
                (zone, name)
            }
        };
        Ok(Window { start, end, timezone, zone })
    }

    /// The zone.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// `02:00–05:30 Europe/Amsterdam`.
    pub fn describe(&self) -> String {
        format!("{}–{} {}", self.start.strftime("%H:%M"), self.end.strftime("%H:%M"), self.timezone)
    }

    /// Seconds the window lasts (its length on a day without a clock change).
    pub fn length_seconds(&self) -> i64 {
        let start = i64::from(self.start.hour()) * 3600 + i64::from(self.start.minute()) * 60;
        let end = i64::from(self.end.hour()) * 3600 + i64::from(self.end.minute()) * 60;
        if end > start { end - start } else { end + 86_400 - start }
    }

    /// The occurrence opening on `day`: (opens, closes), Unix seconds.
    fn occurrence(&self, day: Date) -> Option<(i64, i64)> {
        let open = self.zone.to_timestamp(day.to_datetime(self.start)).ok()?.as_second();
        let close_day = if self.end > self.start { day } else { day.tomorrow().ok()? };
        let close = self.zone.to_timestamp(close_day.to_datetime(self.end)).ok()?.as_second();
        Some((open, close))
    }

    fn occurrences_around(&self, unix: i64) -> Vec<(i64, i64)> {
        let Ok(at) = jiff::Timestamp::from_second(unix) else { return Vec::new() };
        let today = at.to_zoned_datetime(self.zone.clone()).date();
        let mut days = vec![today];
        for _ in 0..2 {
            if let Some(day) = days.first().and_then(|d| d.yesterday().ok()) {
                days.insert(0, day);
            }
            if let Some(day) = days.last().and_then(|d| d.tomorrow().ok()) {
                days.push(day);
            }
        }
        days.into_iter().filter_map(|d| self.occurrence(d)).collect()
    }

    /// When the window that `unix` falls in closes; `None` outside a window.
    pub fn open_at(&self, unix: i64) -> Option<i64> {
        self.occurrences_around(unix).into_iter().find(|(open, close)| *open <= unix && unix < *close).map(|(_, c)| c)
    }

    /// When the next window opens after `unix` (within two days).
    pub fn next_open(&self, unix: i64) -> Option<i64> {
        self.occurrences_around(unix).into_iter().map(|(open, _)| open).filter(|open| *open > unix).min()
    }

    /// How many windows `batches` (each its estimate in seconds, in order) need when each
    /// window is used from its start and a batch starts only if it ends inside the window.
    /// `None` when a batch is longer than the window: it could never start.
    pub fn windows_needed(&self, batches: &[u64]) -> Option<usize> {
        let length = u64::try_from(self.length_seconds()).ok()?;
        let mut windows = 0;
        let mut left = 0;
        for estimate in batches {
            if *estimate > length {
                return None;
            }
            if *estimate > left {
                windows += 1;
                left = length;
            }
            left -= estimate;
        }
        Some(windows)
    }
}

/// When a maintenance window is open: a daily window, or one that closes once.
pub trait Opening {
    /// When the window `unix` falls in closes; `None` outside a window.
    fn open_until(&self, unix: i64) -> Option<i64>;
    /// When the next window opens after `unix`, if one ever does.
    fn next_open(&self, unix: i64) -> Option<i64>;
}

impl Opening for Window {
    fn open_until(&self, unix: i64) -> Option<i64> {
        self.open_at(unix)
    }

    fn next_open(&self, unix: i64) -> Option<i64> {
        Window::next_open(self, unix)
    }
}

/// What a job keeping to a window does before a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeforeBatch {
    /// The window is open with room for the batch: it starts.
    Go,
    /// Wait for the window that opens then (Unix seconds), and ask again.
    Wait {
        /// When it opens.
        opens: i64,
    },
    /// Pause the job for the window: the batch would end after it closes (`closes`), or the
    /// window is shut (`None`).
    Pause {
        /// When the open window closes, if one is open.
        closes: Option<i64>,
    },
    /// No window ever opens again.
    Over,
}

/// The one rule the executor keeps and the simulated schedule follows: before a batch that takes
/// `seconds`, at Unix second `now`, it starts if it ends inside an open window. Otherwise the
/// first batch of a run (the job's start, or its resume) waits for the next window, asked again
/// as a later batch once it opens; a later batch pauses the job.
pub fn before_batch(window: &impl Opening, now: i64, seconds: u64, first_of_run: bool) -> BeforeBatch {
    let closes = window.open_until(now);
    if closes.is_some_and(|c| now.saturating_add(seconds as i64) <= c) {
        return BeforeBatch::Go;
    }
    if !first_of_run {
        return BeforeBatch::Pause { closes };
    }
    match window.next_open(now) {
        Some(opens) => BeforeBatch::Wait { opens },
        None => BeforeBatch::Over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(text: &str, zone: &str) -> i64 {
        let civil: jiff::civil::DateTime = text.parse().unwrap();
        TimeZone::get(zone).unwrap().to_timestamp(civil).unwrap().as_second()
    }

    /// The rule before a batch, worked out by hand on 02:00–03:00 UTC (3,600 s): at 02:00 a
    /// 3,600 s batch fits exactly, a 3,601 s one does not; a run's first batch then waits for
    /// the next day's 02:00, a later one pauses, naming the close; outside the window a later
    /// batch pauses with no close.
    #[test]
    fn before_a_batch_go_wait_or_pause() {
        let window = Window::new("02:00", "03:00", Some("UTC")).unwrap();
        let two = unix("2026-12-07T02:00:00", "UTC");
        assert_eq!(before_batch(&window, two, 3_600, false), BeforeBatch::Go);
        assert_eq!(before_batch(&window, two, 3_601, true), BeforeBatch::Wait { opens: two + 86_400 });
        assert_eq!(before_batch(&window, two, 3_601, false), BeforeBatch::Pause { closes: Some(two + 3_600) });
        assert_eq!(before_batch(&window, two + 3_600, 60, false), BeforeBatch::Pause { closes: None });
        assert_eq!(before_batch(&window, two - 60, 60, true), BeforeBatch::Wait { opens: two });
    }

    #[test]
    fn a_window_across_midnight_is_open_from_its_start_to_the_next_mornings_end() {
        let window = Window::new("22:00", "02:30", Some("Europe/Amsterdam")).unwrap();
        assert_eq!(window.length_seconds(), 4 * 3600 + 1800);
        let at = unix("2026-11-26T23:15", "Europe/Amsterdam");
        assert_eq!(window.open_at(at), Some(unix("2026-11-27T02:30", "Europe/Amsterdam")));
        let early = unix("2026-11-27T01:00", "Europe/Amsterdam");
        assert_eq!(window.open_at(early), Some(unix("2026-11-27T02:30", "Europe/Amsterdam")));
        let noon = unix("2026-11-27T12:00", "Europe/Amsterdam");
        assert_eq!(window.open_at(noon), None);
        assert_eq!(window.next_open(noon), Some(unix("2026-11-27T22:00", "Europe/Amsterdam")));
    }

    /// 02:00–05:30 in Amsterdam is 01:00–04:30 UTC in winter (UTC+1), 00:00–03:30 in summer.
    #[test]
    fn local_hours_hold_across_daylight_saving() {
        let window = Window::new("02:00", "05:30", Some("Europe/Amsterdam")).unwrap();
        let winter = unix("2026-01-15T01:30", "UTC");
        assert_eq!(window.open_at(winter), Some(unix("2026-01-15T04:30", "UTC")));
        let summer = unix("2026-07-15T00:30", "UTC");
        assert_eq!(window.open_at(summer), Some(unix("2026-07-15T03:30", "UTC")));
        assert_eq!(window.open_at(unix("2026-07-15T03:45", "UTC")), None);
    }

    /// A window of 3h 30m = 12,600 s. Batches of 1,440 s: 8 fit in one window (11,520 s), the
    /// ninth opens a second. A batch of 13,000 s never fits.
    #[test]
    fn windows_needed_packs_batches_in_order() {
        let window = Window::new("02:00", "05:30", Some("UTC")).unwrap();
        assert_eq!(window.windows_needed(&[1440; 8]), Some(1));
        assert_eq!(window.windows_needed(&[1440; 9]), Some(2));
        assert_eq!(window.windows_needed(&[]), Some(0));
        assert_eq!(window.windows_needed(&[1440, 13_000]), None);
    }

    #[test]
    fn bad_windows_are_clear_errors() {
        assert_eq!(Window::new("2:00", "05:30", None), Err(WindowError::Time("2:00".into())));
        assert_eq!(Window::new("24:00", "05:30", None), Err(WindowError::Time("24:00".into())));
        assert_eq!(Window::new("02:00", "02:00", Some("UTC")), Err(WindowError::Empty("02:00".into())));
        assert_eq!(Window::new("02:00", "03:00", Some("Mars/Olympus")), Err(WindowError::Zone("Mars/Olympus".into())));
    }
}
