//! Pieces for the demo and the benchmarks: a backend that shows what the gateway sent it.

pub mod echo;
