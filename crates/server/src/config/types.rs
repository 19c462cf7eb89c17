//! Small validated value types of the configuration (opening-hour ranges, dates, time zones):
//! they check themselves while the file is parsed, so errors point at the line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A local time range within one day, written `"08:30-17:00"` (end after start; `24:00` allowed
/// as an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeRange {
    /// Minutes after local midnight, inclusive.
    pub start_minute: u16,
    /// Minutes after local midnight, exclusive.
    pub end_minute: u16,
}

impl TryFrom<String> for TimeRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = || format!("`{text}` is not a time range like \"08:30-17:00\"");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start_minute = parse_clock(start.trim()).ok_or_else(bad)?;
        let end_minute = parse_clock(end.trim()).ok_or_else(bad)?;
        if end_minute <= start_minute {
            return Err(format!("time range `{text}` ends before it starts"));
        }
        Ok(Self {
            start_minute,
            end_minute,
        })
    }
}

impl From<TimeRange> for String {
    fn from(range: TimeRange) -> Self {
        range.to_string()
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= 24 * 60).then_some(total)
}

/// A calendar date written `"2026-12-25"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalDate(pub jiff::civil::Date);

impl TryFrom<String> for LocalDate {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse::<jiff::civil::Date>()
            .map(LocalDate)
            .map_err(|err| format!("`{text}` is not a date like \"2026-12-25\": {err}"))
    }
}

impl From<LocalDate> for String {
    fn from(date: LocalDate) -> Self {
        date.0.to_string()
    }
}

/// An IANA time zone name such as `"Europe/Paris"`, checked against the time zone database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// The zone's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone itself (it was found when the name was parsed).
    pub fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        jiff::tz::TimeZone::get(&text)
            .map(|_| TimeZoneName(text.clone()))
            .map_err(|_| {
                format!("unknown time zone `{text}` (expected a name like \"Europe/Paris\")")
            })
    }
}

impl From<TimeZoneName> for String {
    fn from(name: TimeZoneName) -> Self {
        name.0
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        TimeZoneName("Europe/Paris".to_owned())
    }
}
