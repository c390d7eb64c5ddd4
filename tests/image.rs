//! `hitless image ...` and the state store, through the binary and a real store in a
//! temporary directory.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Run, hitless};

fn in_store(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    hitless(&all)
}

fn write_file(dir: &Path, name: &str, bytes: usize) -> String {
    let path = dir.join(name);
    let content: Vec<u8> = (0..bytes).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_string()
}

fn add(dir: &Path, name: &str, file: &str) -> Run {
    add_version(dir, name, file, "18.4r2-s3.4")
}

/// `image add` of `file` as `name` for the small fabric's platforms, at `version`.
fn add_version(dir: &Path, name: &str, file: &str, version: &str) -> Run {
    let platforms = "qfx5110-48s,qfx10002-36q";
    let args = ["image", "add", "--name", name, "--file", file, "--vendor", "juniper", "--family", "junos-qfx"];
    in_store(dir, &[&args[..], &["--platforms", platforms, "--os-version", version]].concat())
}

fn list_json(dir: &Path) -> Vec<serde_json::Value> {
    let run = in_store(dir, &["image", "list", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn add_list_show_edit_remove_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "junos.tgz", 300_000);
    let run = add(dir.path(), "junos-18.4R2", &file);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let images = list_json(dir.path());
    assert_eq!(images.len(), 1);
    let image = &images[0];
    assert_eq!(image["name"], "junos-18.4R2");
    assert_eq!(image["os_version"], "18.4R2-S3.4", "versions are normalised");
    assert_eq!(image["platforms"], serde_json::json!(["qfx5110-48s", "qfx10002-36q"]));
    assert_eq!(image["size_bytes"], 300_000);
    assert_eq!(image["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(image["md5"].as_str().unwrap().len(), 32);
    assert!(image["uploaded_at"].as_str().unwrap().ends_with('Z'));
    let stored = std::fs::read(image["path"].as_str().unwrap()).unwrap();
    assert_eq!(stored, std::fs::read(&file).unwrap(), "the stored copy is the file");

    let run = in_store(
        dir.path(),
        &["image", "edit", "junos-18.4R2", "--platforms", "qfx5120-48y", "--os-version", "18.4R3"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shown: serde_json::Value =
        serde_json::from_str(&in_store(dir.path(), &["image", "show", "junos-18.4R2", "--format", "json"]).stdout)
            .unwrap();
    assert_eq!(shown["platforms"], serde_json::json!(["qfx5120-48y"]));
    assert_eq!(shown["os_version"], "18.4R3");
    assert_eq!(shown["sha256"], image["sha256"], "editing does not touch the content");

    let run = in_store(dir.path(), &["image", "rm", "junos-18.4R2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(list_json(dir.path()).is_empty());
    assert!(!Path::new(image["path"].as_str().unwrap()).exists(), "the file goes with its last image");
}

#[test]
fn catalog_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "junos.tgz", 1000);
    assert_eq!(add(dir.path(), "a", &file).code, 0);
    // `image add` with one field changed from a valid command: (name, file, vendor, version).
    let add_args = |name: &'static str, file: &str, vendor: &'static str, version: &'static str| -> Vec<String> {
        let args = ["image", "add", "--name", name, "--file", file, "--vendor", vendor, "--family", "junos-qfx"];
        args.iter().chain(&["--platforms", "x", "--os-version", version]).map(|a| a.to_string()).collect()
    };
    let odd = write_file(dir.path(), "junos\nforged.tgz", 10);
    let odd = odd.as_str();
    let owned: Vec<(Vec<String>, &str)> = vec![
        (add_args("a", &file, "juniper", "19.1R1"), "image a already exists"),
        (add_args("b", odd, "juniper", "19.1R1"), "image file name \"junos\\nforged.tgz\" contains '\\n'"),
        (add_args("b\nforged", &file, "juniper", "19.1R1"), "image name \"b\\nforged\" contains '\\n'"),
        (add_args("b", &file, "juniper", "nineteen"), "unparsable Junos version \"nineteen\""),
        (add_args("b", "/no/such/file.tgz", "juniper", "19.1R1"), "cannot read image file /no/such/file.tgz"),
        (add_args("b", &file, " ", "19.1R1"), "image vendor must not be empty"),
    ];
    let mut cases: Vec<(Vec<&str>, &str)> =
        owned.iter().map(|(args, message)| (args.iter().map(String::as_str).collect(), *message)).collect();
    cases.extend([
        (vec!["image", "edit", "a", "--name", "c"], "image names are immutable"),
        (vec!["image", "edit", "a"], "nothing to change"),
        (vec!["image", "show", "zzz"], "no image named zzz in the catalog"),
        (vec!["image", "rm", "zzz"], "no image named zzz in the catalog"),
    ]);
    for (args, message) in cases {
        let run = in_store(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert_eq!(list_json(dir.path()).len(), 1, "failed commands change nothing");
}

#[test]
fn verify_finds_corrupt_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let one = write_file(dir.path(), "one.tgz", 50_000);
    let two = write_file(dir.path(), "two.tgz", 60_000);
    assert_eq!(add(dir.path(), "one", &one).code, 0);
    assert_eq!(add(dir.path(), "two", &two).code, 0);
    assert_eq!(in_store(dir.path(), &["image", "verify"]).code, 0);
    let images = list_json(dir.path());
    let mut bytes = std::fs::read(images[0]["path"].as_str().unwrap()).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(images[0]["path"].as_str().unwrap(), bytes).unwrap();
    let run = in_store(dir.path(), &["image", "verify", "--format", "json"]);
    assert_eq!(run.code, 1);
    let results: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(results[0]["status"], "corrupt");
    assert_eq!(results[1]["status"], "ok");
    std::fs::remove_file(images[1]["path"].as_str().unwrap()).unwrap();
    let run = in_store(dir.path(), &["image", "verify", "two"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("two MISSING"), "{}", run.stdout);
}

#[test]
fn a_kill_during_add_leaves_no_image_and_no_stray_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Large enough that copying and hashing take a good fraction of a second.
    let file = write_file(dir.path(), "big.tgz", 400 << 20);
    // Killed when the copy has written this many bytes: a known point of the copy each time.
    for written in [1u64 << 20, 100 << 20, 300 << 20] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hitless"))
            .args(["--state-dir", state.to_str().unwrap(), "image", "add", "--name", "big", "--file", &file])
            .args(["--vendor", "juniper", "--family", "junos-qfx", "--platforms", "x", "--os-version", "19.1R1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let staged = |state: &Path| -> u64 {
            std::fs::read_dir(state.join("tmp"))
                .map(|dir| {
                    dir.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).max().unwrap_or(0)
                })
                .unwrap_or(0)
        };
        let delay_ms = written >> 20; // for the messages: megabytes written
        let started = std::time::Instant::now();
        while staged(&state) < written && child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "the copy never got to {written} bytes");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let images = list_json(&state); // the next start cleans up
        if status.success() {
            // The copy won the race: the image is whole. Remove it for the next round.
            assert_eq!(images.len(), 1);
            assert_eq!(in_store(&state, &["image", "rm", "big"]).code, 0);
            continue;
        }
        assert!(images.is_empty(), "killed after {delay_ms} MB copied: {images:?}");
        let leftovers: Vec<_> = ["tmp", "blobs/sha256"]
            .iter()
            .flat_map(|d| std::fs::read_dir(state.join(d)).into_iter().flatten())
            .map(|e| e.unwrap().path())
            .collect();
        assert!(leftovers.is_empty(), "killed after {delay_ms} ms, left {leftovers:?}");
    }
}

#[test]
fn rm_is_refused_while_an_unfinished_job_uses_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "junos.tgz", 1000);
    assert_eq!(add(dir.path(), "a", &file).code, 0);
    let db = rusqlite::Connection::open(dir.path().join("hitless.db")).unwrap();
    db.execute_batch(
        "INSERT INTO jobs (id, scenario, fabric, state, created_unix) VALUES ('job-1', 'evpn', 'fabric', 'running', 0);
         INSERT INTO job_images VALUES ('job-1', 'a');",
    )
    .unwrap();
    let run = in_store(dir.path(), &["image", "rm", "a"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("image a is used by unfinished job job-1"), "{}", run.stderr);
    db.execute("UPDATE jobs SET state = 'finished'", []).unwrap();
    assert_eq!(in_store(dir.path(), &["image", "rm", "a"]).code, 0);
}

#[test]
fn an_older_store_is_migrated_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("hitless.db")).unwrap();
    db.execute_batch(hitless::store::migrations::MIGRATIONS[0]).unwrap();
    db.execute_batch(
        "INSERT INTO images VALUES ('old', 'juniper', 'junos-qfx', 'qfx5110-48s', '18.1R3-S2', 'old.tgz', 3, 'abc', 'def', 0);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(db);
    let images = list_json(dir.path());
    assert_eq!(images[0]["name"], "old");
    let db = rusqlite::Connection::open(dir.path().join("hitless.db")).unwrap();
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, hitless::store::migrations::latest());
    db.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(db);
    let run = in_store(dir.path(), &["image", "list"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("has schema version 99") && run.stderr.contains("use a newer hitless"),
        "{}",
        run.stderr
    );
}

#[test]
fn concurrent_adds_from_four_processes_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = (0..4).map(|i| write_file(dir.path(), &format!("f{i}.tgz"), 2_000_000 + i)).collect();
    let children: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            Command::new(env!("CARGO_BIN_EXE_hitless"))
                .args([
                    "--state-dir",
                    dir.path().to_str().unwrap(),
                    "image",
                    "add",
                    "--name",
                    &format!("img{i}"),
                    "--file",
                    file,
                ])
                .args(["--vendor", "juniper", "--family", "junos-qfx", "--platforms", "x", "--os-version", "19.1R1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(list_json(dir.path()).len(), 4);
    assert_eq!(in_store(dir.path(), &["image", "verify"]).code, 0);
}

#[test]
fn hitless_home_chooses_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "junos.tgz", 1000);
    let output = Command::new(env!("CARGO_BIN_EXE_hitless"))
        .env("HITLESS_HOME", dir.path().join("home"))
        .args(["image", "add", "--name", "a", "--file", &file, "--vendor", "juniper", "--family", "junos-qfx"])
        .args(["--platforms", "x", "--os-version", "19.1R1"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(dir.path().join("home/hitless.db").exists());
}

#[test]
fn scenarios_can_take_images_from_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = write_file(dir.path(), "junos.tgz", 1000);
    let run = add_version(&state, "junos-19.1R1", &file, "19.1R1");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(crate::util::root().join("scenarios/small-2spine-4leaf.yaml"))
        .unwrap()
        .replace(
            "  - {name: junos-qfx-18.4R2, vendor: juniper, family: junos-qfx,\n     platforms: [qfx5110-48s, qfx10002-36q], version: 18.4R2}",
            "  - {name: junos-19.1R1}",
        )
        .replace("image: junos-qfx-18.4R2", "image: junos-19.1R1");
    assert!(text.contains("{name: junos-19.1R1}"));
    let path = dir.path().join("catalog.yaml");
    std::fs::write(&path, &text).unwrap();
    let run = in_store(&state, &["plan", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["batches"].as_array().unwrap().len(), 4);

    std::fs::write(&path, text.replace("junos-19.1R1", "junos-20.4R3")).unwrap();
    let run = in_store(&state, &["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("image junos-20.4R3 is not in the image catalog at"), "{}", run.stderr);

    let partial = text.replace("{name: junos-19.1R1}", "{name: junos-19.1R1, vendor: juniper}");
    std::fs::write(&path, partial).unwrap();
    let run = in_store(&state, &["validate", path.to_str().unwrap()]);
    assert!(run.stderr.contains("or only the name to take the image from the catalog"), "{}", run.stderr);
}

#[test]
fn journals_written_before_typed_steps_keep_their_meaning() {
    use hitless::journal::{DriverKind, Step};
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("hitless.db")).unwrap();
    for sql in &hitless::store::migrations::MIGRATIONS[..3] {
        db.execute_batch(sql).unwrap();
    }
    // A journal as the release before typed steps wrote it, with its old wording.
    db.execute_batch(
        "PRAGMA user_version = 3;
         INSERT INTO jobs (id, scenario, fabric, state, created_unix, driver) VALUES ('job-0001', 's', 'f', 'finished', 0, 'sim');
         INSERT INTO job_events (job, seq, at_unix, at_seconds, device, state, message) VALUES
           ('job-0001', 1, 0, 0, 'leaf1', 'Health Check', 'pre-upgrade'),
           ('job-0001', 2, 0, 1, 'leaf1', 'Activating Maintenance Mode', 'draining traffic'),
           ('job-0001', 3, 0, 2, 'leaf1', 'Image Upgrade', 'copying img and verifying its checksum'),
           ('job-0001', 4, 0, 3, 'leaf1', 'Image Upgrade', 'rebooting'),
           ('job-0001', 5, 0, 4, 'leaf1', 'Hitless Image Upgrade Successful', 'running 18.4R2'),
           ('job-0001', 6, 0, 5, 'leaf1', 'Hitless Image Upgrade Successful', 'already running 18.4R2; finishing the upgrade'),
           ('job-0001', 7, 0, 6, 'leaf1', 'Deactivating Maintenance Mode', 'returning traffic'),
           ('job-0001', 8, 0, 7, 'leaf1', 'Maintenance Mode Deactivated', 'upgraded to 18.4R2 and back in service');",
    )
    .unwrap();
    drop(db);
    let store = hitless::store::Store::open(dir.path()).unwrap();
    let steps: Vec<Step> =
        hitless::store::jobs::events(&store, "job-0001", None).unwrap().into_iter().map(|e| e.step).collect();
    use Step::*;
    assert_eq!(steps, [PreCheck, Drain, Copy, Reboot, Booted, Note, Undrain, InService]);
    assert_eq!(hitless::store::jobs::get(&store, "job-0001").unwrap().driver, DriverKind::Virtual);
}

#[test]
fn an_emptied_or_damaged_database_never_costs_an_image_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "junos.tgz", 20_000);
    assert_eq!(add(dir.path(), "a", &file).code, 0);
    let blob = list_json(dir.path())[0]["path"].as_str().unwrap().to_string();
    // The database is deleted (or replaced by an empty one, or an old backup): the next commands
    // find no image, and the file stays.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("hitless.db{suffix}")));
    }
    assert!(list_json(dir.path()).is_empty());
    assert_eq!(in_store(dir.path(), &["image", "verify"]).code, 0);
    assert!(Path::new(&blob).exists(), "an image file was deleted behind the operator's back");
    // `image gc` lists it and deletes nothing; with --delete it goes.
    let gc = in_store(dir.path(), &["image", "gc"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert!(gc.stdout.contains(&blob) && gc.stdout.contains("nothing was deleted"), "{}", gc.stdout);
    assert!(Path::new(&blob).exists());
    let gc = in_store(dir.path(), &["image", "gc", "--delete"]);
    assert!(gc.stdout.contains("deleted 1 file"), "{}", gc.stdout);
    assert!(!Path::new(&blob).exists());

    // A damaged database is refused with what to do, and changes nothing.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(add(dir.path(), "a", &write_file(dir.path(), "junos.tgz", 20_000)).code, 0);
    let blob = list_json(dir.path())[0]["path"].as_str().unwrap().to_string();
    in_store(dir.path(), &["image", "list"]); // checkpoints the WAL into the file
    let db = dir.path().join("hitless.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 4096 + 200, "more than one page");
    bytes[4096..4096 + 100].fill(0xa5); // the second page's b-tree header
    std::fs::write(&db, &bytes).unwrap();
    let run = in_store(dir.path(), &["image", "list"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is damaged") && run.stderr.contains("Restore it from a backup"), "{}", run.stderr);
    assert!(Path::new(&blob).exists());
}

#[test]
fn image_add_refuses_pipes_and_devices_and_verify_checks_every_image() {
    let dir = tempfile::tempdir().unwrap();
    let args = |file: &str| -> Vec<String> {
        ["image", "add", "--name", "z", "--file", file, "--vendor", "juniper", "--family", "junos-qfx"]
            .iter()
            .chain(&["--platforms", "x", "--os-version", "19.1R1"])
            .map(|a| a.to_string())
            .collect()
    };
    let fifo = dir.path().join("pipe.tgz");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let folder = dir.path().join("folder.tgz");
    std::fs::create_dir(&folder).unwrap();
    for file in ["/dev/zero", fifo.to_str().unwrap(), folder.to_str().unwrap()] {
        let owned = args(file);
        let run = in_store(dir.path(), &owned.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run.code, 2, "{file}");
        assert!(run.stderr.contains("is not a regular file"), "{file}: {}", run.stderr);
    }
    // One unreadable image file (here: replaced by a directory) is reported, and the others are
    // still checked.
    assert_eq!(add(dir.path(), "one", &write_file(dir.path(), "one.tgz", 5_000)).code, 0);
    assert_eq!(add(dir.path(), "two", &write_file(dir.path(), "two.tgz", 6_000)).code, 0);
    let images = list_json(dir.path());
    let first = images[0]["path"].as_str().unwrap();
    std::fs::remove_file(first).unwrap();
    std::fs::create_dir(first).unwrap();
    let run = in_store(dir.path(), &["image", "verify", "--format", "json"]);
    assert_eq!(run.code, 1);
    let results: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(results.len(), 2, "{}", run.stdout);
    assert_eq!(results.iter().filter(|r| r["status"] == "unreadable").count(), 1, "{}", run.stdout);
    assert_eq!(results.iter().filter(|r| r["status"] == "ok").count(), 1, "{}", run.stdout);
}
