//! `hitless serve`: the console and the HTTP API (`crate::console`), with this process's clock,
//! host name and job lease, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::console::Config;
use crate::driver::ssh::SshAuth;
use crate::workflow::drivers::JunosOptions;
use crate::workflow::service::Service;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one). Plain HTTP only on loopback:
    /// elsewhere give --tls-cert and --tls-key, or --insecure.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// A directory of scenario files: the fabrics the console offers, named by file stem.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// TLS certificate chain, PEM.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback (every page says so).
    #[arg(long)]
    insecure: bool,
    /// A session unused this many minutes ends.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10080))]
    session_minutes: u32,
    /// Jobs with the Junos or native driver reach devices as these say (without a key or
    /// $HITLESS_SSH_PASSWORD, the console runs virtual jobs only).
    #[command(flatten)]
    ssh: super::SshFlags,
}

pub fn serve(args: ServeArgs, state_dir: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let service = Service::open(state_dir)?;
    let ssh = &args.ssh;
    let auth = match (&ssh.ssh_key, std::env::var("HITLESS_SSH_PASSWORD")) {
        (Some(key), _) => Some(SshAuth::Key(key.clone())),
        (None, Ok(password)) => Some(SshAuth::Password(password)),
        (None, Err(_)) => None,
    };
    let junos = auth.map(|auth| JunosOptions {
        connect_timeout: None,
        user: ssh.ssh_user.clone(),
        eapi_password: super::upgrade::eapi_password(&auth),
        eapi_ca: ssh.eapi_ca.clone(),
        auth,
        known_hosts: ssh.known_hosts.clone(),
        trust_on_first_use: ssh.trust_on_first_use,
        time_scale: 1.0,
    });
    let caller = super::upgrade::caller();
    let mut config = Config::new(args.bind, super::upgrade::host_name());
    config.scenarios = args.scenarios;
    config.tls = args.tls_cert.zip(args.tls_key);
    config.insecure = args.insecure;
    config.session_idle_seconds = i64::from(args.session_minutes) * 60;
    config.junos = junos;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let users = service.users()?.len();
    runtime.block_on(crate::console::serve(
        service,
        config,
        caller,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        |address| {
            eprintln!(
                "hitless console on {scheme}://{address}/ (Ctrl-C stops it; jobs it runs stop with it and resume later)"
            );
            if users == 0 {
                eprintln!("hitless: no user can sign in yet: add one with `hitless user add NAME --role admin`");
            }
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}
