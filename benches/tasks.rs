//! Loss + gradient per step for the quadratic, Rosenbrock and MNIST classifier tasks, the
//! classifier's evaluation pass, and loading MNIST with a warm cache.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use lodo_tui::data::mnist;
use lodo_tui::task::mnist_classify::{DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN, MnistClassify};
use lodo_tui::task::{EvalContext, Task, TaskSpec, spec};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn loss_and_grad(c: &mut Criterion, name: &str, task: &mut dyn Task) {
    let params = task.init_params();
    let mut grad = vec![0.0; task.dim()];
    c.bench_function(name, |b| {
        b.iter(|| black_box(task.loss_and_grad(black_box(&params), &mut grad).unwrap()))
    });
}

fn synthetic(c: &mut Criterion) {
    let mut quadratic = spec::build(&TaskSpec::named("quadratic"), 0).unwrap();
    quadratic.next_batch();
    loss_and_grad(c, "quadratic n=100 loss+grad", quadratic.as_mut());
    let mut rosenbrock = spec::build(&TaskSpec::named("rosenbrock"), 0).unwrap();
    loss_and_grad(c, "rosenbrock loss+grad", rosenbrock.as_mut());
}

fn assets() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist")
}

fn classifier(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let data = mnist::load_with_cache(&assets(), cache.path()).unwrap();
    let mut task = MnistClassify::new(data, DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN, 0).unwrap();
    loss_and_grad(c, "mnist-classify batch 128 loss+grad", &mut task);
    let params = task.init_params();
    let mut group = c.benchmark_group("mnist-classify");
    group.sample_size(10);
    group.bench_function("evaluate (5k val + 10k test)", |b| {
        b.iter(|| black_box(task.evaluate(&params, &EvalContext::default()).unwrap()))
    });
    group.bench_function("load MNIST, warm cache", |b| {
        b.iter(|| black_box(mnist::load_with_cache(&assets(), cache.path()).unwrap()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots need system fonts, which headless machines lack.
    config = Criterion::default().without_plots();
    targets = synthetic, classifier
}
criterion_main!(benches);
