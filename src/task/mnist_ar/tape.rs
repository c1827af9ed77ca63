//! Glue between the hand-written kernels and dfdx's tape, through dfdx's public API only.
//!
//! Every activation is a flat `Tensor<(usize,), f32, Cpu, T>` holding NHWC values; the network's
//! parameters are one flat tensor. A custom op reads its input's values (`copy_into`, since dfdx
//! offers no public borrow), computes its output, wraps it with `tensor_from_vec` (no copy),
//! splits the tape off the input and pushes a backward closure with `add_backward_op` before
//! putting the tape on the output. The closure finds the gradients by tensor id
//! (`Gradients::get_or_alloc_mut` on ghosts / the parameter tensor): it takes the output's
//! gradient out of the map (ops run in reverse creation order, so every consumer of the output
//! has already added to it, and taking it frees it early), writes the input's gradient and adds
//! into the parameters' gradient.
//!
//! Each op is the only consumer of its input (the network is a chain), so its backward pass
//! *writes* the input gradient into a reused buffer that replaces the zeros dfdx allocated for
//! it; those zeros are never touched, so they cost no page faults, and the large gradient
//! buffers cycle through [`buffers`] from step to step.

use std::rc::Rc;

use super::buffers;
use anyhow::{Context, Result};
use dfdx::prelude::{Cpu, HasShape, NoneTape, PutTape, SplitTape, Tape, Tensor, TensorFromVec};

/// A flat activation or parameter tensor.
pub type Flat<T> = Tensor<(usize,), f32, Cpu, T>;

/// The gradients a hand-written backward pass works on.
pub struct Grads<'a> {
    /// Gradient of the loss with respect to the op's output.
    pub output: &'a [f32],
    /// Gradient with respect to the op's input, to be written (see [`InputGrad`]).
    pub input: &'a mut [f32],
    /// Gradient with respect to the whole flat parameter vector; add into the op's ranges.
    pub params: &'a mut [f32],
}

/// The network's parameters: the flat dfdx tensor whose gradient the ops fill, and its values
/// shared with the backward closures (which must own what they read).
pub struct Params {
    pub tensor: Flat<NoneTape>,
    pub values: Rc<[f32]>,
}

impl Params {
    pub fn new(dev: &Cpu, values: &[f32]) -> Result<Self> {
        let tensor = dev
            .try_tensor_from_vec(values.to_vec(), (values.len(),))
            .context("building the parameter tensor")?;
        Ok(Self {
            tensor,
            values: values.into(),
        })
    }
}

/// The values of a flat tensor, in a reused buffer (see [`buffers`]).
pub fn values<T>(t: &Flat<T>) -> Vec<f32> {
    let mut out = buffers::take(t.shape().0);
    t.copy_into(&mut out);
    out
}

/// Whether an op's backward pass computes its input's gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputGrad {
    /// It writes every value of [`Grads::input`]; the op must be its input's only consumer.
    Write,
    /// The input is data; [`Grads::input`] is empty and the input's gradient is left alone.
    None,
}

/// Makes `out` the output of a hand-written op on `input` with parameters `params`, recording
/// `backward` on the tape when `T` tracks gradients (for `NoneTape` it is dropped unrun).
pub fn record<T: Tape<f32, Cpu>>(
    input: Flat<T>,
    out: Vec<f32>,
    params: &Params,
    input_grad: InputGrad,
    backward: impl FnOnce(Grads) + 'static,
) -> Result<Flat<T>> {
    let dev = input.device().clone();
    let n = out.len();
    let output = dev
        .try_tensor_from_vec(out, (n,))
        .context("wrapping a custom op's output in a tensor")?;
    let in_len = input.shape().0;
    let (input, mut tape) = input.split_tape();
    let (in_ghost, out_ghost) = (input.ghost(), output.ghost());
    drop(input);
    let params = params.tensor.clone();
    tape.add_backward_op(move |grads| {
        let g_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        let mut g_in = match input_grad {
            InputGrad::Write => buffers::take(in_len),
            InputGrad::None => Vec::new(),
        };
        let mut g_params = std::mem::take(&mut **grads.get_or_alloc_mut(&params)?);
        backward(Grads {
            output: &g_out,
            input: &mut g_in,
            params: &mut g_params,
        });
        if input_grad == InputGrad::Write {
            **grads.get_or_alloc_mut(&in_ghost)? = g_in;
        }
        **grads.get_or_alloc_mut(&params)? = g_params;
        buffers::give(g_out);
        Ok(())
    });
    Ok(output.put_tape(tape))
}
