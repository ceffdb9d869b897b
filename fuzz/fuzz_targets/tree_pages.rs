//! Two B-trees' pages with the input's edits applied and their checksums rewritten, read,
//! checked and edited through the B-tree layer (`folio::fuzzing::tree_pages`): slotted
//! nodes, overflow chains, compressed frames.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    folio::fuzzing::tree_pages(bytes);
});
