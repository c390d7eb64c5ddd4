//! `hitless user ...`: the people who may use the console and the API.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::{Format, render};
use crate::workflow::service::Service;
use crate::workflow::users::{MIN_PASSWORD, Role};

/// Where a new user's password comes from when not typed.
const PASSWORD_VARIABLE: &str = "HITLESS_USER_PASSWORD";

#[derive(Debug, clap::Subcommand)]
pub enum UserCmd {
    /// Add a user. The password is asked for (twice), or read from HITLESS_USER_PASSWORD.
    Add {
        /// Unique name: letters, digits, '.', '_', '-'.
        name: String,
        /// viewer (sees), operator (also runs upgrades) or admin (also manages users and images).
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
    },
    /// List the users, their roles and how many API tokens each holds.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove a user, revoking their API tokens.
    Rm {
        /// The user.
        name: String,
    },
    /// Issue an API token for a user (`Authorization: Bearer TOKEN`); shown once, kept only as a
    /// digest.
    Token {
        /// The user.
        name: String,
    },
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The new user's password: from the environment, or typed twice at a terminal.
fn password(name: &str) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var(PASSWORD_VARIABLE) {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password for {name}: type it at a terminal, or set {PASSWORD_VARIABLE}");
    }
    let first = rpassword::prompt_password(format!("password for {name} (at least {MIN_PASSWORD} characters): "))
        .context("cannot read the password")?;
    let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
    if first != again {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

pub fn run(cmd: UserCmd, state_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let service = Service::open(state_dir)?;
    match cmd {
        UserCmd::Add { name, role } => {
            let role = Role::parse(&role).context("a role clap accepted")?;
            let password = password(&name)?;
            let user = service.add_user(&name, role, &password, now_unix())?;
            println!("added {} ({})", user.name, user.role.as_str());
        }
        UserCmd::List { format } => {
            let users = service.users()?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&users)?),
                Format::Table => {
                    let mut table = render::table(&["Name", "Role", "API tokens", "Added"]);
                    for user in &users {
                        table.add_row(vec![
                            user.name.clone(),
                            user.role.as_str().to_string(),
                            user.tokens.to_string(),
                            render::utc(user.created_unix),
                        ]);
                    }
                    println!("{table}");
                }
            }
        }
        UserCmd::Rm { name } => {
            service.remove_user(&name)?;
            println!("removed {name} and their API tokens");
        }
        UserCmd::Token { name } => {
            let token = service.issue_token(&name, now_unix())?;
            eprintln!("API token for {name} (shown once; hitless keeps only its digest):");
            println!("{token}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
