//! Junos and Arista EOS version strings: parsing, normalising and (partially) ordering.
//!
//! The formats real devices report (`shared/reference/junos-netconf.md` §6):
//! - releases: `18.4R2-S3.4` is train `18.4`, type letter `R` (regular; also `X` special line,
//!   `F` feature, `B` beta, `I` internal), build `2`, service release `-S3` (or `-D59` on `X`
//!   lines) and respin `.4`; `17.3R3.10` has a respin on the build;
//! - customer builds: `15.1F5.15-C1.12` adds a customer suffix `-C1.12` to a release;
//! - dated development builds: `15.1-20161209.0` (train, date, serial);
//! - internal builds whose build part is free text: `15.1I20160102_1200_builder`;
//! - `-EVO` marks Junos OS Evolved.
//!
//! Versions of different trains always order by train. Within a train, releases order field by
//! field, numerically (`18.1R3-S2 < 18.4R1 < 18.4R2 < 18.4R2-S1 < 19.1R1`; a version without a
//! service release or customer suffix comes before the same version with one), and dated builds
//! order by date. A dated or free-text build cannot be ordered against a release of its own
//! train: [`Version::partial_cmp`] says so with `None`, and whatever needs the order must say it
//! cannot tell rather than guess.
//!
//! EOS (`shared/reference/arista-eos.md` §2): `MAJOR.MINOR.PATCH[.BUILD...]` and a train letter
//! (`F` feature, `M` maintenance), then optional suffixes naming a variant or an internal build
//! (`4.32.2F`, `4.31.1.1M`, `4.23.2.1F-DPE`, `4.30.0F-INT`, `4.28.3M-2GB`). EOS versions order by
//! their numbers, a missing trailing number counting as none (`4.23.2F < 4.23.2.1F <
//! 4.23.3F`); the letter names the train a release belongs to and does not order it. Two EOS
//! versions with the same numbers but another letter or other suffixes are different builds
//! that cannot be ordered (`None`), and an EOS version is never ordered against a Junos one.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed Junos version. Compare with `<` (partial: see the module documentation); display
/// gives the normalised text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    major: u32,
    minor: u32,
    build: Build,
    evolved: bool,
}

/// What follows the train.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Build {
    /// A release with a numeric build.
    Release(Release),
    /// A dated development build, `-YYYYMMDD.N`.
    Dated { date: u32, serial: Option<u32> },
    /// A build whose identity is free text (internal builds): the type letter and the rest, as
    /// written.
    Opaque { kind: ReleaseKind, text: String },
    /// An Arista EOS release: the numbers after the train, its train letter and suffixes.
    Eos(Eos),
}

/// The EOS part after `MAJOR.MINOR`: `.2.1F-DPE` is numbers `[2, 1]`, train `F`, suffixes
/// `["DPE"]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Eos {
    numbers: Vec<u32>,
    train: char,
    suffixes: Vec<String>,
}

/// At most this many numbers after `MAJOR.MINOR` in an EOS version.
const EOS_NUMBERS_MAX: usize = 4;

impl Eos {
    /// Parses what follows `MAJOR.MINOR` (starting with its dot).
    fn parse(cursor: &mut Cursor) -> Result<Eos, &'static str> {
        let mut numbers = Vec::new();
        while cursor.expect('.').is_some() {
            numbers.push(cursor.number().ok_or("a number must follow each dot")?);
            if numbers.len() > EOS_NUMBERS_MAX {
                return Err("an EOS version has at most four numbers after MAJOR.MINOR");
            }
        }
        let train = match cursor.letter() {
            Some(letter @ ('F' | 'M')) => letter,
            _ => return Err("an EOS version's numbers end with its train letter, F or M"),
        };
        let mut suffixes = Vec::new();
        while cursor.expect('-').is_some() {
            let end = cursor.rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(cursor.rest.len());
            if end == 0 {
                return Err("a suffix after '-' must be letters or digits (-DPE, -INT, -2GB)");
            }
            suffixes.push(cursor.rest[..end].to_string());
            cursor.rest = &cursor.rest[end..];
        }
        Ok(Eos { numbers, train, suffixes })
    }

    /// The numbers, padded with zeros, for ordering.
    fn key(&self) -> [u32; EOS_NUMBERS_MAX] {
        let mut key = [0; EOS_NUMBERS_MAX];
        key[..self.numbers.len()].copy_from_slice(&self.numbers);
        key
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Release {
    kind: ReleaseKind,
    build: u32,
    build_respin: Option<u32>,
    service: Option<(ServiceKind, u32, Option<u32>)>,
    customer: Option<(u32, Option<u32>)>,
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

impl ReleaseKind {
    fn from_letter(letter: char) -> Option<ReleaseKind> {
        Some(match letter {
            'R' => ReleaseKind::Regular,
            'X' => ReleaseKind::Special,
            'F' => ReleaseKind::Feature,
            'B' => ReleaseKind::Beta,
            'I' => ReleaseKind::Internal,
            _ => return None,
        })
    }

    fn letter(self) -> char {
        match self {
            ReleaseKind::Regular => 'R',
            ReleaseKind::Special => 'X',
            ReleaseKind::Feature => 'F',
            ReleaseKind::Beta => 'B',
            ReleaseKind::Internal => 'I',
        }
    }
}

/// The service-release letter after the dash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ServiceKind {
    D,
    S,
}

/// Why a version string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unparsable Junos version {text:?}: {why} (expected e.g. 18.4R2, 18.4R2-S3.4, 15.1X53-D59.4, 15.1F5.15-C1.12 or 15.1-20161209.0)"
)]
pub struct VersionError {
    text: String,
    why: &'static str,
}

impl Version {
    /// Parses a version, accepting lower-case letters and surrounding white space.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let err = |why| VersionError { text: text.to_string(), why };
        let trimmed = text.trim();
        let upper = trimmed.to_ascii_uppercase();
        let (body, evolved) = match upper.strip_suffix("-EVO") {
            Some(body) => (body, true),
            None => (upper.as_str(), false),
        };
        let mut cursor = Cursor { rest: body };
        let major = cursor.number().ok_or_else(|| err("it must start with the major release number"))?;
        cursor.expect('.').ok_or_else(|| err("a dot must follow the major release"))?;
        let minor = cursor.number().ok_or_else(|| err("a minor release number must follow the dot"))?;
        let build = if cursor.rest.starts_with('.') && !evolved {
            Build::Eos(Eos::parse(&mut cursor).map_err(err)?)
        } else if cursor.expect('-').is_some() {
            dated(&mut cursor).ok_or_else(|| err("a dated build is -YYYYMMDD or -YYYYMMDD.N"))?
        } else {
            let letter = cursor.letter().ok_or_else(|| err("the release type must be one of R, X, F, B or I"))?;
            let kind = ReleaseKind::from_letter(letter)
                .ok_or_else(|| err("the release type must be one of R, X, F, B or I"))?;
            let before = cursor.rest;
            match release(&mut cursor, kind) {
                Ok(release) if cursor.rest.is_empty() || kind != ReleaseKind::Internal => Build::Release(release),
                // Internal builds name themselves freely (`15.1I20160102_1200_builder`).
                _ if kind == ReleaseKind::Internal && !before.is_empty() => {
                    // `upper` has the input's bytes, upper-cased: the same positions in `trimmed`
                    // hold the build as written, from its type letter to the end of `body`.
                    let start = body.len() - before.len() - 1;
                    cursor.rest = "";
                    Build::Opaque { kind, text: trimmed[start..body.len()].to_string() }
                }
                Err(why) => return Err(err(why)),
                Ok(_) => unreachable!("a release that is not internal was taken above"),
            }
        };
        if !cursor.rest.is_empty() {
            return Err(err("unexpected text at the end"));
        }
        Ok(Version { major, minor, build, evolved })
    }

    /// The release train, e.g. `18.4` for `18.4R2-S3.4`.
    pub fn train(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// True for an Arista EOS version.
    pub fn is_eos(&self) -> bool {
        matches!(self.build, Build::Eos(_))
    }

    /// True for Junos OS Evolved (`-EVO`), which reboots with its own RPC.
    pub fn is_evolved(&self) -> bool {
        self.evolved
    }

    /// The version inside a package comment of a release before 15.1, which has no
    /// `junos-version`: `JUNOS EX Software Suite [11.4R1.6]` gives `11.4R1.6`.
    pub fn from_package_comment(comment: &str) -> Option<Result<Version, VersionError>> {
        let open = comment.find('[')?;
        let close = open + comment[open..].find(']')?;
        Some(Version::parse(&comment[open + 1..close]))
    }
}

fn dated(cursor: &mut Cursor) -> Option<Build> {
    let digits = cursor.rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(cursor.rest.len());
    if digits != 8 {
        return None;
    }
    let date = cursor.number()?;
    let serial = match cursor.expect('.') {
        Some(()) => Some(cursor.number()?),
        None => None,
    };
    Some(Build::Dated { date, serial })
}

fn release(cursor: &mut Cursor, kind: ReleaseKind) -> Result<Release, &'static str> {
    let build = cursor.number().ok_or("a build number must follow the release type")?;
    let build_respin = cursor.respin().map_err(|()| "a number must follow the dot after the build")?;
    let mut release = Release { kind, build, build_respin, service: None, customer: None };
    while cursor.expect('-').is_some() {
        match cursor.letter() {
            Some(letter @ ('S' | 'D')) if release.service.is_none() && release.customer.is_none() => {
                let service_kind = if letter == 'S' { ServiceKind::S } else { ServiceKind::D };
                let number = cursor.number().ok_or("a number must follow -S or -D")?;
                let respin = cursor.respin().map_err(|()| "a number must follow the respin dot")?;
                release.service = Some((service_kind, number, respin));
            }
            Some('C') if release.customer.is_none() => {
                let number = cursor.number().ok_or("a number must follow -C")?;
                let respin = cursor.respin().map_err(|()| "a number must follow the dot after -C")?;
                release.customer = Some((number, respin));
            }
            _ => return Err("a suffix must be a service release (-S<n>, -D<n>) or a customer build (-C<n>)"),
        }
    }
    Ok(release)
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

    /// An optional `.N`: `Ok(None)` without a dot, an error for a dot without a number.
    fn respin(&mut self) -> Result<Option<u32>, ()> {
        match self.expect('.') {
            None => Ok(None),
            Some(()) => self.number().map(Some).ok_or(()),
        }
    }
}

impl Release {
    fn key(&self) -> impl Ord + use<> {
        let service = self.service.map(|(k, n, r)| (k, n, r.unwrap_or(0), r.is_some()));
        let customer = self.customer.map(|(n, r)| (n, r.unwrap_or(0), r.is_some()));
        // A service release comes after every respin of its base release (17.3R3.10 < 17.3R3-S3.3).
        (self.kind, self.build, service, customer, self.build_respin.unwrap_or(0), self.build_respin.is_some())
    }
}

impl PartialOrd for Version {
    /// `None` when the two cannot be ordered: a dated or free-text build against a release of
    /// its own train, or two different free-text builds.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        if self.is_eos() != other.is_eos() {
            return None;
        }
        let train = (self.major, self.minor).cmp(&(other.major, other.minor));
        if train != Ordering::Equal {
            return Some(train);
        }
        let within = match (&self.build, &other.build) {
            (Build::Release(a), Build::Release(b)) => a.key().cmp(&b.key()),
            (Build::Dated { date: a, serial: sa }, Build::Dated { date: b, serial: sb }) => (a, sa).cmp(&(b, sb)),
            (Build::Opaque { text: a, .. }, Build::Opaque { text: b, .. }) if a.eq_ignore_ascii_case(b) => {
                Ordering::Equal
            }
            (Build::Eos(a), Build::Eos(b)) => match a.key().cmp(&b.key()) {
                // The same numbers: the same build, or builds that cannot be ordered.
                Ordering::Equal if a != b => return None,
                order => order,
            },
            _ => return None,
        };
        Some(within.then(self.evolved.cmp(&other.evolved)))
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
        write!(f, "{}.{}", self.major, self.minor)?;
        match &self.build {
            Build::Release(release) => {
                write!(f, "{}{}", release.kind.letter(), release.build)?;
                if let Some(respin) = release.build_respin {
                    write!(f, ".{respin}")?;
                }
                if let Some((kind, number, respin)) = release.service {
                    let letter = if kind == ServiceKind::S { 'S' } else { 'D' };
                    write!(f, "-{letter}{number}")?;
                    if let Some(respin) = respin {
                        write!(f, ".{respin}")?;
                    }
                }
                if let Some((number, respin)) = release.customer {
                    write!(f, "-C{number}")?;
                    if let Some(respin) = respin {
                        write!(f, ".{respin}")?;
                    }
                }
            }
            Build::Dated { date, serial } => {
                write!(f, "-{date:08}")?;
                if let Some(serial) = serial {
                    write!(f, ".{serial}")?;
                }
            }
            Build::Opaque { text, .. } => f.write_str(text)?,
            Build::Eos(eos) => {
                for number in &eos.numbers {
                    write!(f, ".{number}")?;
                }
                write!(f, "{}", eos.train)?;
                for suffix in &eos.suffixes {
                    write!(f, "-{suffix}")?;
                }
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
    use std::cmp::Ordering;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn eos_versions_parse_display_and_order_by_their_numbers() {
        // Orders written out by hand from the numbering rule (arista-eos.md §2).
        let ordered = ["4.20.15M", "4.21.1F", "4.21.1.1F", "4.22.0F", "4.23.2.1F", "4.30.0.1M", "4.31.1.1M", "4.32.2F"];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(v(pair[1]) > v(pair[0]));
        }
        for text in ["4.32.2F", "4.31.1.1M", "4.23.2.1F-DPE", "4.30.0F-INT", "4.28.3M-2GB"] {
            let version = v(text);
            assert!(version.is_eos(), "{text}");
            assert_eq!(version.to_string(), text, "normalised as written");
            assert_eq!(version.partial_cmp(&version), Some(Ordering::Equal));
        }
        assert_eq!(v(" 4.32.2f ").to_string(), "4.32.2F");
        // 4.23.2F and 4.23.2.0F are the same numbers written two ways: different texts, no order.
        assert_eq!(v("4.23.2F").partial_cmp(&v("4.23.2.0F")), None);
        // Variants and trains of the same numbers: different builds, no order.
        assert_eq!(v("4.23.2.1F").partial_cmp(&v("4.23.2.1F-DPE")), None);
        assert_eq!(v("4.30.0F").partial_cmp(&v("4.30.0M")), None);
        // Numbers decide over suffixes.
        assert!(v("4.30.0F-INT") < v("4.30.1F"));
        // Never against Junos, in either direction.
        assert_eq!(v("4.32.2F").partial_cmp(&v("18.4R2")), None);
        assert_eq!(v("18.4R2").partial_cmp(&v("4.32.2F")), None);
        assert!(!v("18.4R2").is_eos());
    }

    #[test]
    fn malformed_eos_versions_are_refused_with_the_reason() {
        for (text, why) in [
            ("4.32.2", "train letter"),
            ("4.32.2X", "train letter"),
            ("4.32.F", "a number must follow each dot"),
            ("4.32.2F-", "suffix"),
            ("4.32.2F-D PE", "unexpected text"),
            ("4.1.2.3.4.5.6F", "at most four numbers"),
        ] {
            let error = Version::parse(text).unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn real_versions_sort_in_release_order() {
        let ordered = [
            "11.4R1.6",
            "12.3R12.4",
            "13.3R2.2",
            "14.1X53-D40.8",
            "15.1F5.15",
            "15.1F5.15-C1.12",
            "15.1F6.9",
            "15.1R7",
            "15.1X49-D150.2",
            "15.1X53-D59.4",
            "17.3R3.10",
            "17.3R3-S3.3",
            "18.1R1",
            "18.1R3-S2",
            "18.4R1",
            "18.4R2",
            "18.4R2-S1",
            "18.4R2-S3.4",
            "18.4R3",
            "19.1R1",
            "20.4R3.8-EVO",
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
    fn every_real_format_round_trips_its_normalised_text() {
        for text in [
            "18.4R2-S3.4",
            "15.1X53-D59.4",
            "15.1F5.15-C1.12",
            "15.1-20161209.0",
            "15.1-20161209",
            "12.3B2.1",
            "21.4R3-S5.4-EVO",
            "15.1I20160102_1200_builder",
            "22.4I62500TB237700_cd-builder",
        ] {
            assert_eq!(v(text).to_string(), text, "{text}");
        }
    }

    #[test]
    fn dated_and_free_text_builds_order_only_where_they_can() {
        assert!(v("15.1-20161209.0") < v("15.1-20170101.0"));
        assert!(v("15.1-20161209.0") < v("15.1-20161209.1"));
        assert!(v("14.2R7") < v("15.1-20161209.0"), "another train orders");
        assert!(v("15.1-20161209.0") < v("16.1R1"));
        assert_eq!(v("15.1-20161209.0").partial_cmp(&v("15.1R7")), None, "same train, a release");
        assert_eq!(v("15.1I20160102_1200_builder").partial_cmp(&v("15.1R7")), None);
        assert_eq!(
            v("15.1I20160102_1200_builder").partial_cmp(&v("15.1I20160102_1200_BUILDER")),
            Some(Ordering::Equal)
        );
        assert_eq!(v("15.1I20160102_1200_builder").partial_cmp(&v("15.1I20170102_1200_builder")), None);
        assert!(v("15.1I1") < v("15.1R1"), "a numeric internal build is a release like the others");
    }

    #[test]
    fn the_version_of_a_release_before_15_1_comes_from_its_package_comment() {
        let version = Version::from_package_comment("JUNOS EX  Software Suite [11.4R1.6]").unwrap().unwrap();
        assert_eq!(version.to_string(), "11.4R1.6");
        assert!(Version::from_package_comment("JUNOS Software Release").is_none());
        assert!(Version::from_package_comment("JUNOS [garbage]").unwrap().is_err());
    }

    #[test]
    fn normalises_case_and_white_space() {
        assert_eq!(v(" 18.4r2-s3.4 ").to_string(), "18.4R2-S3.4");
        assert_eq!(v("21.4R3-S5.4-evo").to_string(), "21.4R3-S5.4-EVO");
        assert_eq!(v("18.4R2"), v("18.4r2"));
        assert!(v("21.4R3-S5.4-EVO").is_evolved() && !v("21.4R3-S5.4").is_evolved());
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in [
            "",
            "18",
            "18.4",
            "18.4Q2",
            "18.4R",
            "18.4R2-",
            "18.4R2-S",
            "18.4R2 extra",
            "v18.4R2",
            "18.4R2-S3.",
            "15.1-2016",
            "15.1F5.15-C",
            "18.4R2-Z1",
            "18.4R2-S1-S2",
        ] {
            let err = Version::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("unparsable Junos version"), "{bad}: {err}");
        }
    }
}
