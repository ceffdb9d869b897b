//! `data_file` for a database whose log holds a transaction not yet checkpointed: every open
//! replays it into the damaged trees (`folio::fuzzing::replayed_file`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    folio::fuzzing::replayed_file(bytes);
});
