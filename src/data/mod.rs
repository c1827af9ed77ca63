//! Data sets: MNIST, loaded from the standard IDX files (from a directory, or built into the
//! binary).

pub mod cache;
pub mod embedded;
pub mod idx;
pub mod mnist;
