//! `hitless user ...`: users of the console and the API, through the binary, and their
//! passwords and tokens checked through the library, against a real store in a temporary
//! directory. No password or token is ever in the store's file as given.

use std::path::Path;
use std::process::{Command, Stdio};

use hitless::workflow::service::Service;
use hitless::workflow::users::Role;

use crate::util::{Run, on_terminal};

const PASSWORD: &str = "correct horse battery";

fn user(dir: &Path, args: &[&str], password: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hitless"));
    command.arg("--state-dir").arg(dir).arg("user").args(args).stdin(Stdio::null()).env_remove("HITLESS_USER_PASSWORD");
    if let Some(password) = password {
        command.env("HITLESS_USER_PASSWORD", password);
    }
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Everything the store keeps on disk, as bytes (the database and its write-ahead log).
fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("hitless.db") {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn users_are_added_with_a_role_listed_and_removed_and_only_their_password_s_hash_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let added = user(dir.path(), &["add", "alice", "--role", "operator"], Some(PASSWORD));
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(added.stdout.contains("added alice (operator)"), "{}", added.stdout);
    let again = user(dir.path(), &["add", "alice", "--role", "admin"], Some(PASSWORD));
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("user alice already exists"), "{}", again.stderr);
    let weak = user(dir.path(), &["add", "bob", "--role", "viewer"], Some("short"));
    assert!(weak.code != 0 && weak.stderr.contains("too weak"), "{}", weak.stderr);
    let named = user(dir.path(), &["add", "bob/../x", "--role", "viewer"], Some(PASSWORD));
    assert!(named.code != 0 && named.stderr.contains("is not allowed"), "{}", named.stderr);
    let role = user(dir.path(), &["add", "bob", "--role", "root"], Some(PASSWORD));
    assert_eq!(role.code, 2, "clap refuses a role that is not one: {}", role.stderr);
    let silent = user(dir.path(), &["add", "bob", "--role", "viewer"], None);
    assert!(silent.code != 0 && silent.stderr.contains("HITLESS_USER_PASSWORD"), "{}", silent.stderr);
    // Typed at a terminal, twice; two different ones change nothing.
    let state = dir.path().to_str().unwrap();
    let typed = on_terminal(
        &["--state-dir", state, "user", "add", "carol", "--role", "admin"],
        100,
        &format!("{PASSWORD}\n{PASSWORD}\n"),
    );
    assert_eq!(typed.code, 0, "{}", typed.stdout);
    // (What is typed ahead of the prompt the terminal echoes itself, so echo is not judged here.)
    assert!(typed.stdout.contains("password for carol (at least 12 characters): "), "{}", typed.stdout);
    let differ = on_terminal(
        &["--state-dir", state, "user", "add", "dave", "--role", "admin"],
        100,
        &format!("{PASSWORD}\nsomething else entirely\n"),
    );
    assert!(differ.code != 0 && differ.stdout.contains("differ"), "{}", differ.stdout);

    let listed = user(dir.path(), &["list", "--format", "json"], None);
    let users: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let names: Vec<(&str, &str)> =
        users.as_array().unwrap().iter().map(|u| (u["name"].as_str().unwrap(), u["role"].as_str().unwrap())).collect();
    assert_eq!(names, [("alice", "operator"), ("carol", "admin")]);

    let service = Service::open(Some(dir.path())).unwrap();
    let alice = service.authenticate_password("alice", PASSWORD).unwrap().expect("her password");
    assert_eq!(alice.role, Role::Operator);
    assert!(service.authenticate_password("alice", "correct horse battery!").unwrap().is_none());
    assert!(service.authenticate_password("nobody", PASSWORD).unwrap().is_none());
    let bytes = store_bytes(dir.path());
    assert!(!contains(&bytes, PASSWORD), "a password is in the store as given");
    assert!(contains(&bytes, "$argon2id$"), "the store keeps Argon2id hashes");

    let removed = user(dir.path(), &["rm", "alice"], None);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(service.authenticate_password("alice", PASSWORD).unwrap().is_none());
    let gone = user(dir.path(), &["rm", "alice"], None);
    assert!(gone.code != 0 && gone.stderr.contains("no user named alice"), "{}", gone.stderr);
}

#[test]
fn an_api_token_is_shown_once_kept_as_a_digest_and_revoked_with_its_user() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(user(dir.path(), &["add", "ci-bot", "--role", "operator"], Some(PASSWORD)).code, 0);
    let issued = user(dir.path(), &["token", "ci-bot"], None);
    assert_eq!(issued.code, 0, "{}", issued.stderr);
    let token = issued.stdout.trim().to_string();
    assert!(token.starts_with("hitless_") && token.len() > 70, "{token}");
    assert!(issued.stderr.contains("shown once"), "{}", issued.stderr);
    let second = user(dir.path(), &["token", "ci-bot"], None).stdout.trim().to_string();
    assert_ne!(token, second, "each token is new");
    let none = user(dir.path(), &["token", "nobody"], None);
    assert!(none.code != 0 && none.stderr.contains("no user named nobody"), "{}", none.stderr);

    let service = Service::open(Some(dir.path())).unwrap();
    let bot = service.authenticate_token(&token).unwrap().expect("the token is the bot's");
    assert_eq!((bot.name.as_str(), bot.role, bot.tokens), ("ci-bot", Role::Operator, 2));
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert!(service.authenticate_token(&forged).unwrap().is_none(), "a token one character off");
    assert!(service.authenticate_token("hitless_nothing").unwrap().is_none());
    assert!(service.authenticate_token("").unwrap().is_none());
    let secret = token.rsplit('_').next().unwrap();
    assert!(!contains(&store_bytes(dir.path()), secret), "a token's secret is in the store as given");

    assert_eq!(user(dir.path(), &["rm", "ci-bot"], None).code, 0);
    assert!(service.authenticate_token(&token).unwrap().is_none(), "removing a user revokes their tokens");
    // A user of the same name added again does not inherit the old tokens.
    assert_eq!(user(dir.path(), &["add", "ci-bot", "--role", "viewer"], Some(PASSWORD)).code, 0);
    assert!(service.authenticate_token(&second).unwrap().is_none());
}
