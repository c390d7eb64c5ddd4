//! Problems found in a scenario file, each with the position it concerns.

use std::fmt;
use std::path::PathBuf;

use serde_saphyr::Location;

/// One thing wrong with a scenario, at a line and column when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, or 0 when the problem has no single position.
    pub line: u64,
    /// 1-based column, or 0 when unknown.
    pub column: u64,
    /// What is wrong, naming the offending value.
    pub message: String,
}

impl Problem {
    /// A problem at a parsed position.
    pub fn at(location: Location, message: impl Into<String>) -> Problem {
        let known = location != Location::UNKNOWN;
        Problem {
            line: if known { location.line() } else { 0 },
            column: if known { location.column() } else { 0 },
            message: message.into(),
        }
    }

    /// A problem about the file as a whole.
    pub fn whole(message: impl Into<String>) -> Problem {
        Problem { line: 0, column: 0, message: message.into() }
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error("{}", InvalidDisplay { path, problems })]
    Invalid {
        /// The file (or `<input>` for text that did not come from a file).
        path: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

impl ScenarioError {
    /// The problems of an invalid scenario (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Read { .. } => &[],
            ScenarioError::Invalid { problems, .. } => problems,
        }
    }
}

struct InvalidDisplay<'a> {
    path: &'a PathBuf,
    problems: &'a [Problem],
}

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "invalid scenario {} ({count} {noun})", self.path.display())?;
        for problem in self.problems {
            write!(f, "\n  {}", self.path.display())?;
            if problem.line > 0 {
                write!(f, ":{}:{}", problem.line, problem.column)?;
            }
            write!(f, ": {}", problem.message)?;
        }
        Ok(())
    }
}
