//! The fuzz targets' corpora (`fuzz/`, minimized with `cargo fuzz cmin`) replayed in the
//! normal test suite: every input found by fuzzing the decoders that read the disk (log
//! record payloads, log segments, header slots and roots) still gives a value or a typed
//! error. A crash the fuzzer finds goes into these directories with its fix.

use std::path::Path;

fn replay(target: &str, decode: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz_regressions")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // A panic names the input: `cargo +nightly fuzz run TARGET PATH` reproduces it.
        eprintln!("{}", path.display());
        decode(&bytes);
        inputs += 1;
    }
    assert!(inputs > 0, "no regression inputs in {}", dir.display());
}

#[test]
fn log_record_payloads_found_by_fuzzing_decode_or_fail_typed() {
    replay("log_record", folio::fuzzing::log_record);
}

#[test]
fn log_segments_found_by_fuzzing_decode_or_fail_typed() {
    replay("wal_record", folio::fuzzing::wal_segment);
}

#[test]
fn header_slots_found_by_fuzzing_decode_or_fail_typed() {
    replay("header_slot", folio::fuzzing::header_slot);
}
