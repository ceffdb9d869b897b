//! A log segment, checksums rewritten to match (`folio::fuzzing::wal_segment`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| folio::fuzzing::wal_segment(bytes));
