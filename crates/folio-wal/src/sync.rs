//! Concurrency primitives: `parking_lot` normally, `loom` under `--cfg folio_loom`, behind one
//! API (`Condvar::wait` takes and returns the guard), so the loom models check the real code.

#[cfg(not(folio_loom))]
pub(crate) use real::{Condvar, Mutex, MutexGuard};
#[cfg(not(folio_loom))]
pub(crate) use std::sync::Arc;

#[cfg(folio_loom)]
pub(crate) use loom::sync::Arc;
#[cfg(folio_loom)]
pub(crate) use modelled::{Condvar, Mutex, MutexGuard};

#[cfg(not(folio_loom))]
mod real {
    pub(crate) use parking_lot::{Mutex, MutexGuard};

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

#[cfg(folio_loom)]
mod modelled {
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .expect("loom mutexes are not poisoned in models")
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0
                .wait(guard)
                .expect("loom mutexes are not poisoned in models")
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}
