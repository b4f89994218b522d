//! After warm-up, a training step allocates nothing: counted with a global
//! allocator that tallies the allocations of the threads that train (the
//! test's own thread and the pool's workers), not those of the test harness.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use nn_core::{Activation, Loss, Matrix, Network, NetworkBuilder, Reduction, Sgd};
use nn_train::{DataParallel, Execution, Metric, Progress, TrainConfig, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted.
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if TRACKED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

fn track_this_thread() {
    TRACKED.with(|t| t.set(true));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

fn data(n: usize) -> (Matrix<f32>, Matrix<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = Matrix::from_fn(n, 20, |_, _| rng.random_range(-1.0..1.0));
    let y = Matrix::from_fn(n, 4, |i, j| if i % 4 == j { 1.0 } else { 0.0 });
    (x, y)
}

fn network() -> Network<f32> {
    NetworkBuilder::new(20)
        .dense(16, Activation::Relu)
        .dense(4, Activation::Softmax)
        .build(&mut ChaCha8Rng::seed_from_u64(2))
        .unwrap()
}

/// Allocations made by a whole single-threaded fit over `n` samples (batch 8, with an evaluation set).
fn fit_allocations(n: usize) -> usize {
    let (x, y) = data(n);
    let (tx, ty) = data(300);
    let mut net = network();
    let mut sgd = Sgd::new(0.05);
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    let config = TrainConfig {
        epochs: 3,
        batch_size: 8,
        shard_size: Some(3),
        threads: Some(1),
        progress: Progress::Silent,
        ..TrainConfig::default()
    };
    let before = allocations();
    Trainer::new(&config)
        .objective(&loss)
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .eval_set("test", &tx, &ty)
        .metrics(&[Metric::Accuracy, Metric::Loss, Metric::R2])
        .fit(&mut net)
        .unwrap();
    allocations() - before
}

#[test]
fn the_epoch_loop_and_the_parallel_step_do_not_allocate_per_batch() {
    track_this_thread();
    // Trainer: a run over 10× the batches makes exactly as many allocations (setup + one record per epoch).
    fit_allocations(40); // warm-up (thread-local gemm buffers of this thread)
    let (small, large) = (fit_allocations(40), fit_allocations(400));
    assert_eq!(small, large, "allocations for 5 vs 50 batches per epoch");

    // DataParallel on a 2-thread pool: once every worker has run a shard, 200 batches allocate nothing.
    let net = network();
    let (x, y) = data(64);
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| {
        let mut dp = DataParallel::new(&net, 16, 4, Execution::Parallel).unwrap();
        let idx: Vec<usize> = (0..64).collect();
        // every thread computes a shard once, filling its thread-local gemm buffers
        pool.broadcast(|_| track_this_thread());
        pool.broadcast(|_| {
            DataParallel::new(&net, 16, 4, Execution::Serial)
                .unwrap()
                .gather_and_compute(&net, &x, &y, &idx[..16], &loss)
                .unwrap()
        });
        for b in 0..4 {
            dp.gather_and_compute(&net, &x, &y, &idx[b * 16..(b + 1) * 16], &loss).unwrap();
        }
        let before = allocations();
        for step in 0..200 {
            let b = step % 4;
            let e = dp.gather_and_compute(&net, &x, &y, &idx[b * 16..(b + 1) * 16], &loss).unwrap();
            assert!(e.is_finite());
        }
        assert_eq!(allocations() - before, 0, "allocations in 200 parallel batch steps");
    });
}
