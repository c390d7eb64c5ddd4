//! NETCONF as Junos speaks it: framing ([`framing`]), a bounded XML tree ([`xml`]) and the client
//! session ([`session`]). The transport is any `AsyncRead + AsyncWrite` stream — an SSH channel's
//! `netconf` subsystem in production, an in-memory pipe or a simulated network in tests — so the
//! same code is exercised everywhere.
//!
//! Only this module, the Junos driver and the lab emulator speak NETCONF.

pub mod framing;
pub mod session;
pub mod xml;

pub use session::{NetconfError, Session};
