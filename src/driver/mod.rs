//! The drivers: how the executor's [`crate::exec::Driver`] port reaches devices. Two worlds:
//! virtual devices in virtual time ([`virt`]), and Junos over NETCONF/SSH ([`junos`], with
//! [`ssh`] for the transport and [`scp`] for image transfer); [`any`] holds whichever the
//! operator chose.

pub mod any;
pub mod eos;
pub mod junos;
pub mod scp;
pub mod ssh;
pub mod virt;
