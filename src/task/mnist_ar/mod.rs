//! mnist-ar: the paper's 94,696-parameter autoregressive CNN on MNIST (lodo.md §6).

mod act;
mod atan;
mod block;
mod buffers;
mod depthwise;
#[cfg(test)]
mod gradcheck;
mod head;
pub mod input;
pub mod layout;
mod matmul;
pub mod model;
mod par;
mod pool;
mod simd;
mod stem;
mod tape;
