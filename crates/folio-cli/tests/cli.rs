//! End-to-end tests of the `folio` binary: every command, and bad arguments, a missing
//! database, a non-folio file, a corrupted file and a database locked by another process.

use std::fmt::Write;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn folio() -> Command {
    Command::cargo_bin("folio").unwrap()
}

fn put(db: &Path, cf: &str, key: &str, value: &str) {
    folio()
        .arg("put")
        .arg(db)
        .args(["--cf", cf, key, value])
        .assert()
        .success();
}

/// Every file of the database with its bytes, to show read commands change nothing.
fn snapshot(db: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(db)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A database with three users and one binary entry.
fn sample_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("db");
    put(&db, "users", "alice", "Alice Liddell");
    put(&db, "users", "bob", "Bob");
    put(&db, "users", "carol", "Carol");
    folio()
        .arg("put")
        .arg(&db)
        .args(["--cf", "bin", "--hex", "00ff", "0x0102"])
        .assert()
        .success();
    db
}

#[test]
fn get_scan_list_stats_and_check_read_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());
    let before = snapshot(&db);
    let users = ["--cf", "users"];
    assert_eq!(
        stdout_of(&["get"], &db, &["--cf", "users", "alice"]),
        "Alice Liddell\n"
    );
    assert!(
        stdout_of(&["get"], &db, &["--cf", "users", "alice", "--json"])
            .contains("\"value\": \"Alice Liddell\"")
    );
    assert_eq!(
        stdout_of(&["get"], &db, &["--cf", "bin", "--hex", "00ff"]),
        "0x0102\n"
    );
    assert!(stderr_of(&["get"], &db, &["--cf", "users", "nobody"], 3).contains("no key nobody"));
    assert_eq!(
        stdout_of(&["scan"], &db, &users),
        "alice\tAlice Liddell\nbob\tBob\ncarol\tCarol\n"
    );
    assert_eq!(
        stdout_of(
            &["scan"],
            &db,
            &["--cf", "users", "--reverse", "--limit", "2"]
        ),
        "carol\tCarol\nbob\tBob\n"
    );
    assert_eq!(
        stdout_of(
            &["scan"],
            &db,
            &["--cf", "users", "--from", "b", "--to", "c"]
        ),
        "bob\tBob\n"
    );
    assert!(
        stdout_of(
            &["scan"],
            &db,
            &["--cf", "users", "--prefix", "al", "--json"]
        )
        .contains("\"key\": \"alice\"")
    );
    assert_eq!(
        stdout_of(&["scan"], &db, &["--cf", "bin"]),
        "0x00ff\t0x0102\n"
    );
    assert_eq!(
        stdout_of(&["cf", "list"], &db, &[]),
        "bin\t1\tnone\nusers\t3\tnone\n"
    );
    assert!(stdout_of(&["stats"], &db, &[]).contains("users"));
    assert!(stdout_of(&["stats"], &db, &["--json"]).contains("\"column_families\""));
    assert!(stdout_of(&["check"], &db, &[]).contains("allocator checked"));
    assert!(stdout_of(&["check"], &db, &["--json"]).contains("\"ok\": true"));
    let scan_missing = stderr_of(&["scan"], &db, &["--cf", "missing"], 3);
    assert!(scan_missing.contains("folio cf list"), "{scan_missing}");
    assert_eq!(
        before,
        snapshot(&db),
        "a read command wrote to the database"
    );
}

/// Runs `folio COMMAND DB ARGS...`; asserts success; returns standard output.
fn stdout_of(command: &[&str], db: &Path, args: &[&str]) -> String {
    let output = folio().args(command).arg(db).args(args).output().unwrap();
    assert!(output.status.success(), "{command:?} {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `folio COMMAND DB ARGS...`; asserts exit code `code`; returns standard error.
fn stderr_of(command: &[&str], db: &Path, args: &[&str], code: i32) -> String {
    let output = folio().args(command).arg(db).args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{command:?} {args:?}: {output:?}"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn delete_and_column_family_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());

    let bob = ["--cf", "users", "bob"];
    stdout_of(&["delete"], &db, &bob);
    stderr_of(&["delete"], &db, &bob, 3);
    assert_eq!(
        stdout_of(&["get"], &db, &["--cf", "users", "alice"]),
        "Alice Liddell\n"
    );
    // A range: from --from (included) to --to (excluded), either end open.
    for name in ["dave", "erin", "frank"] {
        put(&db, "users", name, "x");
    }
    let range = [
        "--cf", "users", "--range", "--from", "carol", "--to", "erin",
    ];
    assert_eq!(stdout_of(&["delete"], &db, &range), "2\n"); // carol, dave
    assert_eq!(
        stdout_of(
            &["delete"],
            &db,
            &["--cf", "users", "--range", "--from", "f"]
        ),
        "1\n"
    );
    assert_eq!(
        stdout_of(&["scan"], &db, &["--cf", "users"]),
        "alice\tAlice Liddell\nerin\tx\n"
    );
    stderr_of(&["delete"], &db, &["--cf", "users", "--from", "a"], 2); // needs --range
    stderr_of(&["delete"], &db, &["--cf", "users", "--range", "alice"], 2);
    stdout_of(&["cf", "create"], &db, &["empty"]);
    assert!(stderr_of(&["cf", "create"], &db, &["empty"], 1).contains("already exists"));
    assert_eq!(
        stdout_of(&["cf", "list"], &db, &[]),
        "bin\t1\tnone\nempty\t0\tnone\nusers\t2\tnone\n"
    );
    stdout_of(&["cf", "rename"], &db, &["empty", "vacant"]);
    stderr_of(&["cf", "rename"], &db, &["empty", "other"], 3);
    assert!(stderr_of(&["cf", "rename"], &db, &["vacant", "users"], 1).contains("already exists"));
    stdout_of(&["cf", "drop"], &db, &["vacant"]);
    stderr_of(&["cf", "drop"], &db, &["vacant"], 3);
    assert_eq!(
        stdout_of(&["cf", "list"], &db, &[]),
        "bin\t1\tnone\nusers\t2\tnone\n"
    );
}

#[test]
fn dump_load_backup_and_compact_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    for i in 0..50 {
        put(&db, "a", &format!("k{i:02}"), &format!("v{i}"));
    }
    put(&db, "b", "x", "y");
    let dump = dir.path().join("dump.txt");
    let text = dump_to(&db, &dump);
    assert!(text.starts_with("folio-dump 2\n") && text.ends_with("done 2\n"));

    let copy = dir.path().join("copy");
    load_from(&copy, &dump);
    let scan = |db: &Path| {
        folio()
            .arg("scan")
            .arg(db)
            .args(["--cf", "a"])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(scan(&db), scan(&copy));
    // Loading into a database that has the column families already is refused.
    folio()
        .arg("load")
        .arg(&copy)
        .arg("-i")
        .arg(&dump)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    // A truncated dump is refused.
    let truncated = dir.path().join("truncated.txt");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    folio()
        .arg("load")
        .arg(dir.path().join("other"))
        .arg("-i")
        .arg(&truncated)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("truncated").or(predicate::str::contains("expected")));
    // Through a pipe too.
    let piped = dir.path().join("piped");
    folio()
        .arg("load")
        .arg(&piped)
        .write_stdin(text.clone())
        .assert()
        .success();
    assert_eq!(scan(&db), scan(&piped));

    let backup = dir.path().join("backup");
    folio()
        .arg("backup")
        .arg(&db)
        .arg(&backup)
        .assert()
        .success()
        .stdout(predicate::str::contains("51 entries"));
    assert_eq!(scan(&db), scan(&backup));
    folio()
        .arg("backup")
        .arg(&db)
        .arg(&backup)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));

    folio()
        .arg("compact")
        .arg(&db)
        .arg("--json")
        .assert()
        .success()
        .stdout(predicate::str::contains("bytes_reclaimed"));
    assert_eq!(scan(&db), scan(&backup));
}

/// `folio dump DB -o FILE`; returns the dump's text.
fn dump_to(db: &Path, file: &Path) -> String {
    folio()
        .arg("dump")
        .arg(db)
        .arg("-o")
        .arg(file)
        .assert()
        .success();
    std::fs::read_to_string(file).unwrap()
}

/// Runs `folio load TARGET -i DUMP`; asserts success.
fn load_from(target: &Path, dump: &Path) {
    folio()
        .arg("load")
        .arg(target)
        .arg("-i")
        .arg(dump)
        .assert()
        .success();
}

/// Names in `dir`, to show a failed load leaves no database and no staging directory.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_load_that_fails_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());
    let dump = dir.path().join("dump.txt");
    let text = dump_to(&db, &dump);
    let before = entries(dir.path());
    let load = |target: &Path, input: &[u8]| {
        folio()
            .arg("load")
            .arg(target)
            .write_stdin(input.to_vec())
            .assert()
    };

    // Into a new database: a dump cut by its last bytes, random bytes, a line damaged in
    // the second column family. Each fails and leaves no directory behind.
    let copy = dir.path().join("copy");
    let truncated = &text.as_bytes()[..text.len() - 5];
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let damaged = text.replacen("616c696365", "61zz", 1);
    assert_ne!(damaged, text, "the dump holds alice's key");
    for input in [truncated, &garbage[..], damaged.as_bytes()] {
        load(&copy, input).code(1);
        assert_eq!(
            entries(dir.path()),
            before,
            "a failed load left files behind"
        );
    }
    // The repaired dump then loads (nothing of the failed tries is in the way).
    load(&copy, text.as_bytes()).success();
    assert_eq!(
        stdout_of(&["cf", "list"], &copy, &[]),
        "bin\t1\tnone\nusers\t3\tnone\n"
    );

    // Into an existing database: the column families the failed load created are dropped.
    let existing = dir.path().join("existing");
    put(&existing, "z", "k", "v");
    load(&existing, damaged.as_bytes()).code(1);
    assert_eq!(stdout_of(&["cf", "list"], &existing, &[]), "z\t1\tnone\n");
    load(&existing, text.as_bytes()).success();
    assert_eq!(
        stdout_of(&["cf", "list"], &existing, &[]),
        "bin\t1\tnone\nusers\t3\tnone\nz\t1\tnone\n"
    );

    // An empty directory is a new database.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    load(&empty, truncated).code(1);
    load(&empty, text.as_bytes()).success();
    assert_eq!(
        stdout_of(&["cf", "list"], &empty, &[]),
        "bin\t1\tnone\nusers\t3\tnone\n"
    );
}

#[test]
fn missing_foreign_corrupted_and_locked_databases_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Bad arguments.
    folio().arg("frobnicate").assert().code(2);
    folio().arg("get").assert().code(2);
    folio()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    // A missing database.
    folio()
        .arg("stats")
        .arg(dir.path().join("nowhere"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no such database"));
    // A file that is not a database directory, and a directory with a foreign data file.
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello").unwrap();
    folio()
        .arg("stats")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a folio database"));
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join(folio::DATA_FILE), vec![7u8; 20_000]).unwrap();
    folio()
        .arg("stats")
        .arg(&foreign)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a folio database"));

    // A corrupted data page: `check` reports it (exit 5), reads fail with an error.
    let db = dir.path().join("db");
    folio()
        .arg("load")
        .arg(&db)
        .write_stdin(big_dump())
        .assert()
        .success();
    let data = db.join(folio::DATA_FILE);
    let mut bytes = std::fs::read(&data).unwrap();
    for page in 0..20 {
        bytes[8192 + page * 4096 + 100] ^= 0x55;
    }
    std::fs::write(&data, &bytes).unwrap();
    let check = folio().arg("check").arg(&db).output().unwrap();
    assert!(
        matches!(check.status.code(), Some(1 | 5)),
        "check of a damaged file: {check:?}"
    );
    assert!(!check.stderr.is_empty());

    // A database open in another process (here, this test process) is reported as such.
    let locked = dir.path().join("locked");
    put(&locked, "a", "k", "v");
    let holder = folio::Database::open(&locked).unwrap();
    folio()
        .arg("get")
        .arg(&locked)
        .args(["--cf", "a", "k"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("in use by another process"));
    drop(holder);
}

/// Compression settings are stored with each column family: set by `cf create
/// --compression` and `cf set`, listed, kept by a dump and its load; a version-1 dump (no
/// settings) still loads, and a setting a dump cannot hold is refused with its line.
#[test]
fn column_family_settings_are_stored_listed_and_dumped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout_of(&["cf", "create"], &db, &["docs", "--compression", "zstd-5"]);
    stdout_of(&["cf", "create"], &db, &["plain"]);
    put(&db, "plain", "k", "v");
    stdout_of(&["cf", "set"], &db, &["plain", "--compression", "lz4"]);
    let listed = "docs\t0\tzstd-5\nplain\t1\tlz4\n";
    assert_eq!(stdout_of(&["cf", "list"], &db, &[]), listed);
    stderr_of(&["cf", "set"], &db, &["missing", "--compression", "lz4"], 3);
    stderr_of(
        &["cf", "set"],
        &db,
        &["plain", "--compression", "zstd-40"],
        2,
    );

    let dump = dir.path().join("dump.txt");
    let text = dump_to(&db, &dump);
    assert!(text.contains(" compression=zstd-5\n"), "{text}");
    let copy = dir.path().join("copy");
    load_from(&copy, &dump);
    assert_eq!(stdout_of(&["cf", "list"], &copy, &[]), listed);

    let old = dir.path().join("old");
    let v1 = "folio-dump 1\ncf 61\n6b 76\nend 1\ndone 1\n";
    folio()
        .arg("load")
        .arg(&old)
        .write_stdin(v1)
        .assert()
        .success();
    assert_eq!(stdout_of(&["cf", "list"], &old, &[]), "a\t1\tnone\n");

    let bad = "folio-dump 2\ncf 61 compression=zstd-99\nend 0\ndone 1\n";
    let refused = dir.path().join("refused");
    folio()
        .arg("load")
        .arg(&refused)
        .write_stdin(bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("dump line 2"));
    assert!(!refused.exists(), "a refused load left a database");
}

/// A dump of 3,000 entries (several pages of data).
fn big_dump() -> String {
    let mut text = String::from("folio-dump 1\ncf 61\n");
    for i in 0..3_000u32 {
        writeln!(text, "{:08x} {}", i, "ab".repeat(100)).unwrap();
    }
    text.push_str("end 3000\ndone 1\n");
    text
}

#[test]
fn bench_prints_a_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    folio()
        .args([
            "bench",
            "--size",
            "smoke",
            "--workload",
            "W1,W3",
            "--threads",
            "1,2",
            "--dir",
        ])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "| W1 | cf-batch | folio | 2 | sync |",
        ))
        .stdout(predicate::str::contains("| W3 |"));
    let output = folio()
        .args(["bench", "--size", "smoke", "--workload", "W2", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.trim_start().starts_with('[') && text.contains("\"ops_per_sec\""));
}

/// W5 kills a writer process and reopens: it fails unless every acknowledged put is back.
#[test]
fn bench_w5_kills_a_writer_and_finds_every_acknowledged_put() {
    let dir = tempfile::tempdir().unwrap();
    folio()
        .args(["bench", "--size", "smoke", "--workload", "W5", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("| folio | 4.0 |"))
        .stdout(predicate::str::contains("a new database: create"));
}

#[test]
fn key_file_opens_encrypted_databases_and_stats_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    folio()
        .args(["--key-file", key.to_str().unwrap(), "put"])
        .arg(&db)
        .args(["--cf", "users", "alice", "secret-value"])
        .assert()
        .success();
    folio()
        .arg("get")
        .arg(&db)
        .args(["--cf", "users", "alice"])
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success()
        .stdout(predicates::str::contains("secret-value"));
    folio()
        .arg("get")
        .arg(&db)
        .args(["--cf", "users", "alice"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("encrypted"));
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    folio()
        .arg("--key-file")
        .arg(&wrong)
        .arg("get")
        .arg(&db)
        .args(["--cf", "users", "alice"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("wrong encryption key"));
    folio()
        .arg("--key-file")
        .arg(&key)
        .arg("stats")
        .arg(&db)
        .assert()
        .success()
        .stdout(predicates::str::contains("encrypted       yes"));
    // Key rotation: a backup under a new key opens with it, not with the old one.
    let new_key = dir.path().join("new-key");
    std::fs::write(&new_key, [9u8; 32]).unwrap();
    let rotated = dir.path().join("rotated");
    folio()
        .arg("--key-file")
        .arg(&key)
        .arg("backup")
        .arg(&db)
        .arg(&rotated)
        .arg("--new-key-file")
        .arg(&new_key)
        .assert()
        .success();
    for (key_file, works) in [(&key, false), (&new_key, true)] {
        let assert = folio()
            .arg("--key-file")
            .arg(key_file)
            .arg("get")
            .arg(&rotated)
            .args(["--cf", "users", "alice"])
            .assert();
        if works {
            assert
                .success()
                .stdout(predicates::str::contains("secret-value"));
        } else {
            assert
                .failure()
                .stderr(predicates::str::contains("wrong encryption key"));
        }
    }
}

#[test]
fn compact_repack_compresses_existing_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let value = "a value that repeats itself; ".repeat(20);
    for i in 0..20 {
        put(&db, "docs", &format!("k{i:02}"), &value);
    }
    folio()
        .arg("stats")
        .arg(&db)
        .assert()
        .success()
        .stdout(predicate::str::contains("compression none (1.00x)"));
    folio()
        .args(["compact", "--repack", "--compression", "zstd"])
        .arg(&db)
        .assert()
        .success();
    // The setting is stored: a later write by a command that names none compresses too.
    put(&db, "docs", "k20", &value);
    let stats = folio()
        .arg("stats")
        .arg(&db)
        .arg("--json")
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let docs = &stats["column_families"][0];
    assert_eq!(docs["compression"], "zstd-3", "{stats}");
    assert_eq!(docs["entries"], 21, "{stats}");
    let ratio = docs["compression_ratio"].as_f64().unwrap();
    assert!(ratio > 5.0, "{stats}");
    folio()
        .arg("get")
        .arg(&db)
        .args(["--cf", "docs", "k07"])
        .assert()
        .success()
        .stdout(predicate::str::contains(value.as_str()));
    folio()
        .args(["compact", "--compression", "lz4"])
        .arg(&db)
        .assert()
        .code(2);
}

#[test]
fn watch_prints_a_subscribers_changes_once_and_the_kept_log_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    put(&db, "t", "k1", "v1");
    // Registers the subscriber: nothing after its position yet.
    assert_eq!(stdout_of(&["watch"], &db, &["--subscriber", "audit"]), "");
    put(&db, "t", "k2", "v2");
    folio()
        .arg("delete")
        .arg(&db)
        .args(["--cf", "t", "k1"])
        .assert()
        .success();
    let printed = stdout_of(&["watch"], &db, &["--subscriber", "audit"]);
    let lines: Vec<Vec<&str>> = printed.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert_eq!(lines[0][1..], ["t", "put", "k2", "v2"]);
    assert_eq!(lines[1][1..], ["t", "delete", "k1"]);
    let put_lsn: u64 = lines[0][0].parse().unwrap();
    assert!(lines[1][0].parse::<u64>().unwrap() > put_lsn);
    // Acknowledged: the next watch prints nothing new.
    assert_eq!(stdout_of(&["watch"], &db, &["--subscriber", "audit"]), "");
    // The kept log from before the put, filtered, as JSON lines.
    let from = (put_lsn - 1).to_string();
    let json = stdout_of(
        &["watch"],
        &db,
        &["--from", &from, "--prefix", "k2", "--json"],
    );
    let change: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(change["lsn"], put_lsn);
    assert_eq!(change["ops"][0]["op"], "put");
    assert_eq!(change["ops"][0]["value"], "v2");
    // Before what the log keeps: a clear error.
    let error = stderr_of(&["watch"], &db, &["--from", "0"], 1);
    assert!(error.contains("no longer in the log"), "{error}");
}

#[test]
fn incremental_backups_restore_to_their_points_and_prune() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let chain = dir.path().join("chain");
    put(&db, "t", "k1", "v1");
    let increment = |expect: &str| {
        let out = stdout_of(
            &["backup"],
            &db,
            &[chain.to_str().unwrap(), "--incremental", "--json"],
        );
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["kind"], expect, "{out}");
        report["to_lsn"].as_u64().unwrap()
    };
    let first = increment("full");
    put(&db, "t", "k2", "v2");
    let second = increment("log");
    put(&db, "t", "k1", "changed");
    increment("log");
    assert!(second > first);
    let restored = dir.path().join("restored");
    let out = folio()
        .arg("restore")
        .args([&chain, &restored])
        .args(["--to-lsn", &second.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_of(&["get"], &restored, &["--cf", "t", "k1"]).trim(),
        "v1"
    );
    assert_eq!(
        stdout_of(&["get"], &restored, &["--cf", "t", "k2"]).trim(),
        "v2"
    );
    let listed = folio()
        .args(["backup", "list"])
        .arg(&chain)
        .arg("--json")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["full", "log", "log"]);
    assert_eq!(listed[1]["to_lsn"], second);
    let prune = folio()
        .args(["backup", "prune"])
        .arg(&chain)
        .args(["--keep", "1"])
        .output()
        .unwrap();
    assert!(prune.status.success(), "{prune:?}");
    let latest = dir.path().join("latest");
    folio()
        .arg("restore")
        .args([&chain, &latest])
        .assert()
        .success();
    assert_eq!(
        stdout_of(&["get"], &latest, &["--cf", "t", "k1"]).trim(),
        "changed"
    );
    // Before what the pruned chain covers: a clear error, nothing created.
    let early = dir.path().join("early");
    folio()
        .arg("restore")
        .args([&chain, &early])
        .args(["--to-lsn", &first.to_string()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("outside what the chain covers"));
    assert!(!early.exists());
    // A chain that is not there: exit code 3, like a missing database.
    folio()
        .arg("restore")
        .arg(dir.path().join("no-chain"))
        .arg(&early)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no backup chain there"));
    folio()
        .args(["backup", "list"])
        .arg(dir.path().join("no-chain"))
        .assert()
        .code(3);
    assert!(!early.exists() && !dir.path().join("no-chain").exists());
}
