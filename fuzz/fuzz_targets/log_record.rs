//! A log record's payload: operations or a typed error (`folio::fuzzing::log_record`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| folio::fuzzing::log_record(bytes));
