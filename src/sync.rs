//! The one rule for locks (ARCHITECTURE.md, "Locks"): a poisoned lock is recovered, never
//! skipped.
//!
//! A `Mutex` is poisoned when a thread panicked while holding it. Every critical section in
//! Meridian builds what it changes first and commits it with plain assignments at the end
//! (see `HealthTable::reconfigure`), so a panic leaves the data as it was before that section
//! began, whole: safe to read and to change again. Skipping the work instead would silently
//! stop health checks, overrides or reloads for the rest of the process's life, and doing it
//! differently in different places is how a reload once installed a configuration without its
//! health view. So every lock in the crate is taken through [`lock`], which recovers the guard
//! and says so in the log.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering it if a panicking thread poisoned it (the panic was logged where
/// it happened; this logs that its lock was taken over).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| {
        tracing::error!(
            "a lock was held by a thread that panicked; its data is used as that thread left it (changes are committed whole, so it is consistent)"
        );
        mutex.clear_poison();
        poisoned.into_inner()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_with_its_data() {
        let m = std::sync::Arc::new(Mutex::new(vec![1, 2, 3]));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _guard = m2.lock().unwrap();
            panic!("a bug while holding the lock");
        })
        .join();
        assert!(m.is_poisoned());
        lock(&m).push(4);
        assert_eq!(*lock(&m), vec![1, 2, 3, 4]);
        assert!(!m.is_poisoned(), "recovered once, then an ordinary lock again");
    }
}
