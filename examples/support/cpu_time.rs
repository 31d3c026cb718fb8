//! The calling thread's CPU time, for the examples that time the ACS on one thread: CPU time,
//! unlike wall time, is not inflated by other processes on a busy machine.

/// This thread's CPU time in nanoseconds (Linux: /proc/thread-self/schedstat, first field);
/// 0 where that file cannot be read.
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
