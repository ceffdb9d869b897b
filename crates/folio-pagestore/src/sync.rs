//! Concurrency primitives: `parking_lot` normally, `loom` under `--cfg folio_loom` so the loom
//! models check the real code. Everything in this crate locks through here.

#[cfg(not(folio_loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(folio_loom)]
pub(crate) use loom_mutex::Mutex;

#[cfg(folio_loom)]
mod loom_mutex {
    /// A loom mutex with `parking_lot`'s signature (no poisoning).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .expect("loom mutexes are not poisoned in models")
        }
    }
}
