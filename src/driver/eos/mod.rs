//! Arista EOS over eAPI (`shared/reference/arista-eos.md`): the JSON-RPC `runCmds` request and
//! its reply ([`eapi`]), what the driver reads from the replies of real devices ([`parse`], held
//! to the shapes of recorded replies: napalm's and pyeapi's public test fixtures, with values of
//! our own), the [`Driver`](crate::exec::Driver) port ([`driver`]) and its HTTPS transport
//! ([`https`]).

pub mod driver;
pub mod eapi;
pub mod https;
pub mod parse;

pub use driver::{Eapi, EosDriver, EosSettings, TransportError};
