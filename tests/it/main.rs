//! One integration test binary: the real `bc-customers` binary against the sandbox store.
//!
//! Tests are organised by feature, not by the issue that asked for them. A new test goes in
//! the module of the command or promise it checks (the list below); a hostile or broken
//! store goes in `hostile_store` (import and the row commands) or `hostile_export`; a new
//! feature that fits none gets a module of its own, with a line here.
// `bench`: every workload runs and is reported (structure and request counts, never timing).
mod bench;
// `set-group`, `delete`, `validate-password`, `groups list|create`: results, store state, requests.
mod commands;
// Helpers: the sandbox on 127.0.0.1:0, a temp directory, the binary run with a leak check.
mod common;
// Audit findings across commands: failed-run summaries, results over the input, gzip input,
// dry runs, repeated rows, re-sent creates counted as retries.
mod contract;
// `export`: consistency under change, filters, groups, addresses, backups and retention, the
// lossless export → import round trip.
mod export;
// The first end-to-end slice: round trip, paging edges, quota, 5xx, invalid rows, secrets,
// the client used as a library.
mod foundation;
// Hostile input files (the corpus under `tests/corpus/`, generated giants) and secrets in
// output, token-file permissions, plain http.
mod hostile;
// An export against small broken or hostile stores: complete or it fails.
mod hostile_export;
// Redirects on every command and every V3 route: never followed, nothing sent elsewhere.
mod hostile_redirects;
// The hostile HTTP/1.1 server (std sockets) that `hostile_store` puts in front of the sandbox.
mod hostile_server;
// Import and the row commands against a hostile store: echoed secrets, gzip bombs, absurd
// rate-limit headers, odd statuses and counts (each under both APIs where the promise is the
// same).
mod hostile_store;
// The row commands under `--api v3` against a hostile store: filters ignored by lookups,
// edited create answers, headerless 429s, odd credential checks.
mod hostile_v3;
// `export`, `count`, `set-group --filter` under `--api v3` against lists that lie: pagination,
// wrong-shaped 200s, ignored filters (also V2).
mod hostile_v3_lists;
// `import`: dry runs, validation, groups, addresses, passwords, blanks, export files as
// input, unknown columns, duplicate rows, `--only-failed`, planning.
mod import;
// Real-world input files: encodings, delimiters, Excel leftovers, the whole-file check,
// header spellings, amounts as people write them.
mod input_files;
// The row commands under signals, kills and a store that goes away: journal, lock, the one
// failure policy.
mod interrupts;
// Where output goes: devices, FIFOs, symlinks, clashing paths, swept temporary files, `--bom`.
mod output_files;
// `import --preset` / `--mapping` with every sample under `samples/<platform>/`.
mod presets;
// Property tests of the row → payload mapping and the presets.
mod proptests;
// `--resume` after `kill -9`, lost responses, chaos, rate-limit manners, atomic outputs.
mod reliability;
// `bc-customers sandbox` as its own process: the environment lines and every `--v3-*` switch
// (the V3 reference's open questions) seen over HTTP.
mod sandbox_cmd;
// The run's settings: requests vs rows in flight, settings refused where they mean nothing,
// the connection checked before any file.
mod settings;
// What the user sees: progress, quota waits, `--quiet`, summaries, help and messages, and
// the address and `--only-failed` workflows behind them.
mod ux;
// `export` and `count` under `--api v3`: the same files as V2, request counts, faults, a hostile V3
// store, an unknown version refused, `BIGCOMMERCE_API_VERSION`.
mod v3;
// `import --api v3`: the same results as V2 (parametrised by `--api`), requests per batch,
// poisoned batches, splits, lost answers, form fields written.
mod v3_import;
// `import --api v3` and store credit: set or add, lost answers, the cost of learning which.
mod v3_credit;
mod v3_targets;
