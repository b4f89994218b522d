//! Training as several ranks, with the ranks as threads of this process
//! ([`InProcess`], the reference of the `Collective` contract; the MPI
//! implementation is tested under `mpirun` by xtask's `mpi` tests): exact mode
//! gives the single-process weights bit for bit for any number of ranks and
//! threads, fast mode the same accuracy; ranks that disagree are stopped at
//! the start; a run resumed from a saved state ends with the same bits.

use std::sync::Arc;

use nn_core::{Activation, Adam, Init, Loss, Matrix, Network, NetworkBuilder, Optimizer, OptimizerState, Reduction};
use nn_train::collective::{Collective, Combine, InProcess};
use nn_train::{History, Metric, Progress, TrainConfig, TrainError, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 3 classes in 10 dimensions, 300 samples (not a multiple of the batch).
fn data() -> (Matrix<f32>, Matrix<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x = Matrix::from_fn(300, 10, |_, _| rng.random_range(-1.0f32..1.0));
    let y = Matrix::from_fn(300, 3, |i, j| {
        let s = x.get(i, 0) + 0.5 * x.get(i, 1) - x.get(i, 2);
        let class = if s < -0.4 {
            0
        } else if s < 0.4 {
            1
        } else {
            2
        };
        if j == class {
            1.0
        } else {
            0.0
        }
    });
    (x, y)
}

fn net(seed: u64) -> Network<f32> {
    NetworkBuilder::new(10)
        .dense(16, Activation::Relu)
        .dense(3, Activation::Softmax)
        .weights(Init::He)
        .build(&mut ChaCha8Rng::seed_from_u64(seed))
        .unwrap()
}

fn config(epochs: usize, batch: usize, shard: Option<usize>, threads: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: batch,
        shard_size: shard,
        seed: 3,
        threads: Some(threads),
        progress: Progress::Silent,
        ..TrainConfig::default()
    }
}

fn bits(net: &Network<f32>) -> Vec<u32> {
    net.layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.bias().as_slice()))
        .map(|v| v.to_bits())
        .collect()
}

/// Trains `net(1)` with Adam on one rank (`collective` None) or as one rank of many.
fn train(
    config: &TrainConfig,
    collective: Option<Arc<dyn Collective<f32>>>,
) -> Result<(Network<f32>, History), TrainError> {
    let (x, y) = data();
    let mut network = net(1);
    let mut adam = Adam::new(0.01);
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    let mut trainer = Trainer::new(config)
        .objective(&loss)
        .optimizer(&mut adam)
        .train_set(&x, &y)
        .eval_set("train", &x, &y)
        .metrics(&[Metric::Accuracy]);
    if let Some(c) = collective {
        trainer = trainer.collective(c);
    }
    let history = trainer.fit(&mut network)?;
    Ok((network, history))
}

/// Runs `ranks` ranks as threads, each with `config`, and returns every rank's result.
fn train_ranks(
    ranks: usize,
    combine: Combine,
    config: &TrainConfig,
) -> Vec<Result<(Network<f32>, History), TrainError>> {
    let group = InProcess::<f32>::group(ranks, combine);
    std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|c| s.spawn(move || train(config, Some(Arc::new(c) as Arc<dyn Collective<f32>>))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn exact_mode_gives_the_single_process_bits_for_any_ranks_and_threads() {
    // batch 64: auto shards 2 × 32; shard 8: 8 shards, unevenly owned by 3 ranks
    for shard in [None, Some(8)] {
        let (one, one_history) = train(&config(3, 64, shard, 1), None).unwrap();
        for ranks in [2, 3] {
            for threads in [1, 2] {
                let results = train_ranks(ranks, Combine::Exact, &config(3, 64, shard, threads));
                for (rank, r) in results.into_iter().enumerate() {
                    let (network, history) = r.unwrap();
                    let what = format!("shard {shard:?}, {ranks} ranks × {threads} threads, rank {rank}");
                    assert_eq!(bits(&network), bits(&one), "{what}");
                    let losses = |h: &History| h.train_losses().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(losses(&history), losses(&one_history), "{what}");
                    // batch 64 in 2 shards: a third rank owns none and sends nothing
                    let sends = shard.is_some() || rank < 2;
                    assert!(history.epochs.iter().all(|e| (e.comm_bytes > 0) == sends), "{what}: bytes counted");
                }
            }
        }
        assert!(one_history.epochs.iter().all(|e| e.comm_bytes == 0 && e.comm_seconds == 0.0));
    }
}

#[test]
fn fast_mode_keeps_the_replicas_identical_and_reaches_the_same_accuracy() {
    let (one, one_history) = train(&config(8, 64, Some(8), 1), None).unwrap();
    let results = train_ranks(3, Combine::Fast, &config(8, 64, Some(8), 2));
    let first = bits(&results[0].as_ref().unwrap().0);
    for r in &results {
        let (network, history) = r.as_ref().unwrap();
        assert_eq!(bits(network), first, "every rank holds the same replica");
        let (fast, single) = (
            history.last().unwrap().get("train", Metric::Accuracy).unwrap(),
            one_history.last().unwrap().get("train", Metric::Accuracy).unwrap(),
        );
        assert!((fast - single).abs() <= 0.02, "fast {fast} vs one process {single}");
    }
    // the additions happen in another order: the last bits move
    assert_ne!(first, bits(&one));
}

#[test]
fn ranks_that_disagree_stop_at_the_start() {
    let group = InProcess::<f32>::group(2, Combine::Exact);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .enumerate()
            .map(|(rank, c)| {
                s.spawn(move || {
                    // rank 1 was started with another batch size
                    let cfg = config(2, if rank == 0 { 64 } else { 32 }, None, 1);
                    train(&cfg, Some(Arc::new(c) as Arc<dyn Collective<f32>>))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("the ranks disagree on the training settings") && e.contains("rank 1"), "{e}");
    }
}

#[test]
fn a_resumed_run_ends_with_the_bits_of_an_unbroken_one() {
    let (x, y) = data();
    let loss = Loss::SoftmaxCrossEntropy(Reduction::Mean);
    let (unbroken, _) = train(&config(4, 32, None, 2), None).unwrap();

    // two epochs, saving the state after each
    let mut saved: Option<(Network<f32>, OptimizerState<f32>, History)> = None;
    let mut network = net(1);
    let mut adam = Adam::new(0.01);
    Trainer::new(&config(2, 32, None, 2))
        .objective(&loss)
        .optimizer(&mut adam)
        .train_set(&x, &y)
        .on_checkpoint(|s| {
            saved = Some((s.net.clone(), s.optimizer.state(), s.history.clone()));
            Ok(())
        })
        .fit(&mut network)
        .unwrap();
    let (mut network, state, history) = saved.unwrap();
    assert_eq!(history.epochs.len(), 2);

    // a new process: a fresh optimizer given the saved state, two more epochs
    let mut adam = Adam::new(0.01);
    adam.set_state(&network, state).unwrap();
    let history = Trainer::new(&config(4, 32, None, 1))
        .objective(&loss)
        .optimizer(&mut adam)
        .train_set(&x, &y)
        .resume(history)
        .fit(&mut network)
        .unwrap();
    assert_eq!(history.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(bits(&network), bits(&unbroken));
}

#[test]
fn a_checkpoint_error_stops_training() {
    let (x, y) = data();
    let mut network = net(1);
    let mut adam = Adam::new(0.01);
    let err = Trainer::new(&config(3, 32, None, 1))
        .objective(&Loss::SoftmaxCrossEntropy(Reduction::Mean))
        .optimizer(&mut adam)
        .train_set(&x, &y)
        .on_checkpoint(|s| if s.epoch == 2 { Err(TrainError::Config("disk full".into())) } else { Ok(()) })
        .fit(&mut network)
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
}
