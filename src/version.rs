//! Junos version strings: parsing, normalising and ordering.
//!
//! Junos versions look like `18.4R2-S3.4`: release `18.4`, type letter (`R` for a regular
//! release, `X` for a special release line, `F` feature, `B` beta, `I` internal), build `2`, then
//! an optional service release `-S3` (or `-D59` on `X` lines) and a respin `.4`. An `-EVO` suffix
//! marks Junos OS Evolved. Versions order field by field, numerically, so that
//! `18.1R3-S2 < 18.4R1 < 18.4R2-S1 < 19.1R1`. A version without a service release comes before
//! the same version with one (`18.4R2 < 18.4R2-S1`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed Junos version. Compare with `<`; display gives the normalised text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    major: u32,
    minor: u32,
    kind: ReleaseKind,
    build: u32,
    build_respin: Option<u32>,
    service: Option<(ServiceKind, u32, Option<u32>)>,
    evolved: bool,
}

/// The release type letter, ordered from least to most mature line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ReleaseKind {
    Internal,
    Beta,
    Feature,
    Regular,
    Special,
}

/// The service-release letter after the dash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ServiceKind {
    D,
    S,
}

/// Why a version string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparsable Junos version {text:?}: {why} (expected e.g. 18.4R2, 18.4R2-S3.4 or 15.1X53-D59.4)")]
pub struct VersionError {
    text: String,
    why: &'static str,
}

impl Version {
    /// Parses a version, accepting lower-case letters and surrounding white space.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let err = |why| VersionError { text: text.to_string(), why };
        let upper = text.trim().to_ascii_uppercase();
        let (body, evolved) = match upper.strip_suffix("-EVO") {
            Some(body) => (body, true),
            None => (upper.as_str(), false),
        };
        let mut cursor = Cursor { rest: body };
        let major = cursor.number().ok_or_else(|| err("it must start with the major release number"))?;
        cursor.expect('.').ok_or_else(|| err("a dot must follow the major release"))?;
        let minor = cursor.number().ok_or_else(|| err("a minor release number must follow the dot"))?;
        let kind = match cursor.letter() {
            Some('R') => ReleaseKind::Regular,
            Some('X') => ReleaseKind::Special,
            Some('F') => ReleaseKind::Feature,
            Some('B') => ReleaseKind::Beta,
            Some('I') => ReleaseKind::Internal,
            _ => return Err(err("the release type must be one of R, X, F, B or I")),
        };
        let build = cursor.number().ok_or_else(|| err("a build number must follow the release type"))?;
        let build_respin = cursor.expect('.').map(|()| cursor.number()).transpose_none();
        let build_respin = build_respin.map_err(|()| err("a number must follow the dot after the build"))?;
        let service = if cursor.expect('-').is_some() {
            let service_kind = match cursor.letter() {
                Some('S') => ServiceKind::S,
                Some('D') => ServiceKind::D,
                _ => return Err(err("a service release must be -S<n> or -D<n>")),
            };
            let number = cursor.number().ok_or_else(|| err("a number must follow -S or -D"))?;
            let respin = cursor.expect('.').map(|()| cursor.number()).transpose_none();
            let respin = respin.map_err(|()| err("a number must follow the respin dot"))?;
            Some((service_kind, number, respin))
        } else {
            None
        };
        if !cursor.rest.is_empty() {
            return Err(err("unexpected text at the end"));
        }
        Ok(Version { major, minor, kind, build, build_respin, service, evolved })
    }

    /// The release train, e.g. `18.4` for `18.4R2-S3.4`.
    pub fn train(&self) -> (u32, u32) {
        (self.major, self.minor)
    }
}

/// Helper to turn `Option<Option<u32>>` ("dot present, number present?") into a result.
trait TransposeNone {
    fn transpose_none(self) -> Result<Option<u32>, ()>;
}

impl TransposeNone for Option<Option<u32>> {
    fn transpose_none(self) -> Result<Option<u32>, ()> {
        match self {
            None => Ok(None),
            Some(Some(n)) => Ok(Some(n)),
            Some(None) => Err(()),
        }
    }
}

struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn number(&mut self) -> Option<u32> {
        let end = self.rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(self.rest.len());
        let (digits, rest) = self.rest.split_at(end);
        let value = digits.parse().ok()?;
        self.rest = rest;
        Some(value)
    }

    fn letter(&mut self) -> Option<char> {
        let c = self.rest.chars().next().filter(char::is_ascii_alphabetic)?;
        self.rest = &self.rest[1..];
        Some(c)
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(c)?;
        Some(())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let key = |v: &Version| {
            let service = v.service.map(|(k, n, r)| (k, n, r.unwrap_or(0)));
            (v.major, v.minor, v.kind, v.build, v.build_respin.unwrap_or(0), service, v.evolved)
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = match self.kind {
            ReleaseKind::Regular => 'R',
            ReleaseKind::Special => 'X',
            ReleaseKind::Feature => 'F',
            ReleaseKind::Beta => 'B',
            ReleaseKind::Internal => 'I',
        };
        write!(f, "{}.{}{}{}", self.major, self.minor, letter, self.build)?;
        if let Some(respin) = self.build_respin {
            write!(f, ".{respin}")?;
        }
        if let Some((kind, number, respin)) = self.service {
            let letter = if kind == ServiceKind::S { 'S' } else { 'D' };
            write!(f, "-{letter}{number}")?;
            if let Some(respin) = respin {
                write!(f, ".{respin}")?;
            }
        }
        if self.evolved {
            f.write_str("-EVO")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn real_versions_sort_in_release_order() {
        let ordered = [
            "12.3R12.4",
            "14.1X53-D40.8",
            "15.1R7",
            "15.1X53-D59.4",
            "17.3R3.10",
            "18.1R1",
            "18.1R3-S2",
            "18.4R1",
            "18.4R2",
            "18.4R2-S1",
            "18.4R2-S3.4",
            "18.4R3",
            "19.1R1",
            "20.4R3-S1.3",
            "21.4R3-S5.4",
            "21.4R3-S5.4-EVO",
            "23.4R2",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} should sort before {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn normalises_case_and_white_space() {
        assert_eq!(v(" 18.4r2-s3.4 ").to_string(), "18.4R2-S3.4");
        assert_eq!(v("21.4R3-S5.4-evo").to_string(), "21.4R3-S5.4-EVO");
        assert_eq!(v("18.4R2"), v("18.4r2"));
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in ["", "18", "18.4", "18.4Q2", "18.4R", "18.4R2-", "18.4R2-S", "18.4R2 extra", "v18.4R2", "18.4R2-S3."]
        {
            let err = Version::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("unparsable Junos version"), "{bad}: {err}");
        }
    }
}
