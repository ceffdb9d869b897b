//! A header slot, checksum rewritten to match, and its roots (`folio::fuzzing::header_slot`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| folio::fuzzing::header_slot(bytes));
