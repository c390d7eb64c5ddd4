//! The drivers: how the executor's [`crate::exec::Driver`] port reaches devices. Two worlds:
//! virtual devices in virtual time ([`virt`]), Junos over NETCONF/SSH ([`junos`], with [`ssh`]
//! for the transport and [`scp`] for image transfer) and Arista EOS over eAPI ([`eos`]);
//! [`by_vendor`] reaches each device of a mixed fabric through its own vendor's driver; [`any`]
//! holds whichever the operator chose.

pub mod any;
pub mod by_vendor;
pub mod eos;
pub mod junos;
pub mod scp;
pub mod ssh;
pub mod virt;
