//! A small real database's data file with the input's edits applied and its checksums
//! rewritten, opened and used (`folio::fuzzing::data_file`): header slots, roots, catalog,
//! free list, B-tree nodes, overflow chains and compressed frames.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    folio::fuzzing::data_file(bytes);
});
