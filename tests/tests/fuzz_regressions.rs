//! The fuzz targets' corpora (`fuzz/`, minimized with `cargo fuzz cmin`) replayed in the
//! normal test suite: every input found by fuzzing the decoders that read the disk (log
//! record payloads, log segments, header slots and roots, B-tree pages, whole data files)
//! still gives a value or a typed error. A crash the fuzzer finds goes into these
//! directories with its fix.

use std::path::Path;

fn replay<R>(target: &str, decode: fn(&[u8]) -> R) {
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

#[test]
fn data_files_found_by_fuzzing_open_and_answer_or_fail_typed() {
    replay("data_file", folio::fuzzing::data_file);
}

/// The data-file targets reach past the open: their templates, unedited and resealed, open
/// (a wrong reseal would make every input a refused open), and the replaying one replays.
#[test]
fn the_data_file_targets_open_their_undamaged_templates() {
    assert_eq!(folio::fuzzing::data_file(&[]), Some(0));
    // An edit in a value's bytes (far from any header) still opens.
    assert_eq!(
        folio::fuzzing::data_file(&[0x00, 0x00, 0x09, b'x']),
        Some(0)
    );
    assert_eq!(folio::fuzzing::replayed_file(&[]), Some(1));
}

#[test]
fn replayed_files_found_by_fuzzing_open_and_answer_or_fail_typed() {
    replay("replayed_file", folio::fuzzing::replayed_file);
}

#[test]
fn tree_pages_found_by_fuzzing_answer_or_fail_typed() {
    replay("tree_pages", folio::fuzzing::tree_pages);
}

/// The tree-pages target reaches past the open: its undamaged template scans whole.
#[test]
fn the_tree_pages_target_scans_its_undamaged_template() {
    assert_eq!(folio::fuzzing::tree_pages(&[]), 80);
}
