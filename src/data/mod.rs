//! Data sets: MNIST, loaded from the standard IDX files.

pub mod cache;
pub mod idx;
pub mod mnist;
