//! Arista EOS over eAPI (`shared/reference/arista-eos.md`), first part: the JSON-RPC `runCmds`
//! request and its reply ([`eapi`]) and what the driver reads from the replies of real devices
//! ([`parse`]), held to the shapes of recorded replies (napalm's and pyeapi's public test
//! fixtures, with values of our own). The HTTPS transport and the `Driver` port are not built
//! yet; until they are, the Junos driver refuses scenarios with EOS devices.

pub mod eapi;
pub mod parse;
