//! [`prefetch`]: a hint that memory will be read soon, so the processor starts loading it
//! while the caller works on something else. Walks over data too large for the processor's
//! caches (a replayed batch in key order, a scan's next leaf) pay a cache miss per step
//! otherwise, each one waited for in turn.

/// Asks the processor to start loading the cache line holding the first byte of `value`
/// (for a slice, of its elements) into its caches. Changes nothing the program can observe:
/// no fault, no write, no effect on a later read but its speed. A no-op on targets other
/// than x86-64.
#[inline(always)]
#[expect(
    clippy::inline_always,
    reason = "a hint that costs a call is no hint: it must become one instruction in place"
)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: a prefetch never faults (whatever the address: an empty slice's is dangling)
    // and never changes memory.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            std::ptr::from_ref(value).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    #[test]
    fn a_prefetch_changes_nothing() {
        let bytes = vec![7u8; 4096];
        prefetch(bytes.as_slice());
        prefetch(&bytes[4000..]);
        prefetch::<[u8]>(&[]);
        prefetch(&bytes);
        assert!(bytes.iter().all(|&b| b == 7));
    }
}
