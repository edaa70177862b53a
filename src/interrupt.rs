//! SIGINT / SIGTERM for the row commands: the first signal stops new rows (the rows in flight
//! finish and are recorded), a second one abandons the rows in flight too (their journal marks
//! say what may have happened, so `--resume` stays exact).
//!
//! One [`Interrupt`] per run, shared by the pipeline (which stops reading rows) and the run's
//! end (which says what was done and how to continue). Exit codes follow the shell convention,
//! 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.

use std::sync::Arc;

use tokio::sync::watch;

/// The signal that interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// 128 + the signal number, as a shell reports a process killed by it.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }
}

/// The signals received so far: the first one, and how many.
#[derive(Debug, Clone, Copy, Default)]
struct Received {
    first: Option<Signal>,
    count: u32,
}

/// Watches SIGINT and SIGTERM for one run.
pub struct Interrupt {
    rx: watch::Receiver<Received>,
    /// Kept so that the channel stays open when the handlers could not be installed.
    _tx: Arc<watch::Sender<Received>>,
}

/// A run that stopped on a signal before any row was sent: `lib::run` turns it into the
/// exit code (130/143) and an `interrupted` summary.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {} before any row was processed (this run wrote nothing): run the same command again", .0.name())]
pub struct Interrupted(pub Signal);

/// A row that a signal stopped before it sent its write (or before it started): it is not
/// recorded, so a resumed run does it. The pipeline drops such rows instead of failing.
#[derive(Debug, thiserror::Error)]
#[error("the row was not started: the run was interrupted")]
pub struct Abandoned;

impl Interrupt {
    /// Install the handlers (inside the runtime). From now on a signal no longer kills the
    /// process: the run ends itself, in order. If they cannot be installed, nothing fires.
    pub fn install() -> Arc<Interrupt> {
        let (tx, rx) = watch::channel(Received::default());
        let tx = Arc::new(tx);
        let sender = Arc::clone(&tx);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            if let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                tokio::spawn(async move {
                    loop {
                        let sig = tokio::select! {
                            Some(()) = int.recv() => Signal::Int,
                            Some(()) = term.recv() => Signal::Term,
                            else => return,
                        };
                        sender.send_modify(|r| {
                            r.first.get_or_insert(sig);
                            r.count += 1;
                        });
                    }
                });
            }
        }
        #[cfg(not(unix))]
        {
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    sender.send_modify(|r| {
                        r.first.get_or_insert(Signal::Int);
                        r.count += 1;
                    });
                }
            });
        }
        Arc::new(Interrupt { rx, _tx: tx })
    }

    /// An interrupt that never fires (unit tests of the pipeline).
    #[cfg(test)]
    pub fn never() -> Arc<Interrupt> {
        let (tx, rx) = watch::channel(Received::default());
        Arc::new(Interrupt {
            rx,
            _tx: Arc::new(tx),
        })
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<Signal> {
        self.rx.borrow().first
    }

    /// Resolves once `n` signals have arrived (never, if they do not).
    async fn nth(&self, n: u32) -> Signal {
        let mut rx = self.rx.clone();
        let first = rx.wait_for(|r| r.count >= n).await.map(|r| r.first);
        match first {
            Ok(first) => first.unwrap_or(Signal::Int),
            Err(_) => std::future::pending().await,
        }
    }

    /// Resolves on the first signal.
    pub async fn first(&self) -> Signal {
        self.nth(1).await
    }

    /// Resolves on the second signal: the user insists.
    pub async fn second(&self) -> Signal {
        self.nth(2).await
    }

    /// Run `fut` unless a signal comes first: then the run stops with [`Interrupted`]. For
    /// the planning phase (counts, page reads), which writes nothing.
    pub async fn guard<T>(
        &self,
        fut: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        tokio::select! {
            biased;
            sig = self.first() => Err(Interrupted(sig).into()),
            r = fut => r,
        }
    }
}
