//! The allocator's settings for a daemon that lives for hours: glibc's
//! malloc, tuned through its own calls (other allocators need none).
//!
//! The one module of the workspace that may use unsafe code, for two glibc
//! calls whose signatures are unsafe, as every foreign function's is, though
//! neither takes a pointer.
#![allow(unsafe_code)]

/// Limits glibc's arenas to one per core (at least two). glibc makes up to
/// eight per core as threads contend; the daemon's freed memory then lies
/// scattered over them, and little of it can be given back: after twelve
/// clients that stalled on a 20,000-file report, trimming left the daemon
/// at 143 MiB with the default and at 30 MiB with two arenas, and checks
/// took at most two or three per cent more CPU, within the benchmarks'
/// noise (docs/performance.md). Called first thing in `main`, while the
/// process has one thread.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // A user's own `MALLOC_ARENA_MAX` (glibc reads it) is left in force.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).max(2);
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt takes no pointer and only sets a parameter of the
        // allocator, under its lock.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}

/// Asks the allocator to give its free pages back to the system (glibc's
/// `malloc_trim`; other allocators give large blocks back themselves).
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::time::Instant::now();
        // SAFETY: malloc_trim takes no pointer and touches only the
        // allocator's own free lists, under the allocator's locks: it may be
        // called at any time, from any thread.
        let returned = unsafe { libc::malloc_trim(0) } == 1;
        tracing::debug!(returned, took = ?started.elapsed(), "gave the allocator's free memory back");
    }
}
