//! The journal's background fsync thread, kept off the workers' path.

use std::fs::File;
use std::sync::{Condvar, Mutex};

use super::{SYNC_EVERY, SYNC_EVERY_ROWS};

/// Fsyncs the journal off the workers' path: a background thread syncs every
/// [`SYNC_EVERY_ROWS`] lines, or [`SYNC_EVERY`] after a line, whichever comes first. Syncing
/// inline blocked a runtime worker and every other row's append behind the lock: 1,100–1,650
/// rows/s against the sandbox versus ~2,050 without a journal (debug build, shared machine);
/// off the path, the difference is within that machine's noise.
#[derive(Default)]
pub(super) struct Syncer {
    pub(super) state: Mutex<SyncState>,
    pub(super) wake: Condvar,
}

#[derive(Default)]
pub(super) struct SyncState {
    pub(super) unsynced: u32,
    pub(super) stop: bool,
    /// A failed fsync, reported by the next append.
    pub(super) failed: Option<String>,
}

impl Syncer {
    pub(super) fn run(&self, file: File) {
        loop {
            let mut s = self.state.lock().unwrap();
            let mut waited_since_line = false;
            while !s.stop && s.unsynced < SYNC_EVERY_ROWS && !(waited_since_line && s.unsynced > 0)
            {
                let (guard, timeout) = self.wake.wait_timeout(s, SYNC_EVERY).unwrap();
                s = guard;
                waited_since_line = timeout.timed_out();
            }
            let (pending, stop) = (s.unsynced, s.stop);
            s.unsynced = 0;
            drop(s);
            if pending > 0 {
                if let Err(e) = file.sync_data() {
                    self.state.lock().unwrap().failed = Some(e.to_string());
                }
            }
            if stop {
                return;
            }
        }
    }
}
