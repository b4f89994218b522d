//! Checkpoints: a saved and reloaded network predicts exactly as before;
//! truncated, corrupted and mismatched files are clear errors.

use std::collections::HashMap;
use std::path::PathBuf;

use nn_core::{Activation, Init, Loss, Matrix, Network, NetworkBuilder, Reduction, Sgd};
use nn_train::checkpoint::{from_safetensors_bytes, to_safetensors_bytes};
use nn_train::{
    load_safetensors, load_safetensors_into, save_safetensors, save_safetensors_with, CheckpointError, Progress,
    TrainConfig, Trainer,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("nn-train-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn net<T: nn_core::Float>(seed: u64) -> Network<T> {
    NetworkBuilder::new(6)
        .dense(5, Activation::LeakyRelu(0.01))
        .dense(4, Activation::Tanh)
        .dense(3, Activation::Softmax)
        .weights(Init::Glorot)
        .biases(Init::Normal { std: 0.1 })
        .build(&mut ChaCha8Rng::seed_from_u64(seed))
        .unwrap()
}

fn inputs(n: usize) -> Matrix<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    Matrix::from_fn(n, 6, |_, _| rng.random_range(-2.0..2.0))
}

#[test]
fn a_trained_network_round_trips_with_identical_predictions() {
    let x = inputs(64);
    let y = Matrix::from_fn(64, 3, |i, j| if i % 3 == j { 1.0 } else { 0.0 });
    let mut trained = net::<f32>(1);
    let mut sgd = Sgd::new(0.1);
    let config =
        TrainConfig { epochs: 3, batch_size: 8, progress: Progress::Silent, threads: Some(2), ..Default::default() };
    Trainer::new(&config)
        .objective(&Loss::SoftmaxCrossEntropy(Reduction::Mean))
        .optimizer(&mut sgd)
        .train_set(&x, &y)
        .fit(&mut trained)
        .unwrap();
    let path = dir().join("trained.safetensors");
    save_safetensors(&trained, &path).unwrap();
    let loaded = load_safetensors::<f32>(&path).unwrap();
    assert_eq!(loaded, trained);
    let (a, b) = (trained.predict(x.view()).unwrap(), loaded.predict(x.view()).unwrap());
    assert_eq!(
        a.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );

    // into an existing network of the same architecture
    let mut other = net::<f32>(2);
    assert_ne!(other, trained);
    load_safetensors_into(&mut other, &path).unwrap();
    assert_eq!(other, trained);

    // f64 files, and f32 weights loaded into an f64 network (exact widening)
    let wide: Network<f64> = load_safetensors(&path).unwrap();
    assert_eq!(wide.layers()[1].weights().get(2, 3), f64::from(trained.layers()[1].weights().get(2, 3)));
    let path64 = dir().join("f64.safetensors");
    save_safetensors(&net::<f64>(3), &path64).unwrap();
    assert_eq!(load_safetensors::<f64>(&path64).unwrap(), net::<f64>(3));
}

#[test]
fn the_header_names_the_tensors_the_architecture_and_the_activations() {
    let bytes = to_safetensors_bytes(&net::<f32>(1));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["__metadata__"]["architecture"], "6,5,4,3");
    assert_eq!(header["__metadata__"]["activations"], "leaky_relu:0.01,tanh,softmax");
    assert_eq!(header["__metadata__"]["format"], "backprop-rs");
    assert_eq!(header["layers.0.weight"]["dtype"], "F32");
    assert_eq!(header["layers.0.weight"]["shape"], serde_json::json!([6, 5]));
    assert_eq!(header["layers.2.bias"]["shape"], serde_json::json!([1, 3]));
}

fn load_err(bytes: &[u8]) -> String {
    let err = from_safetensors_bytes::<f32>(bytes, &PathBuf::from("model.safetensors")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("model.safetensors: "), "{msg}");
    msg
}

#[test]
fn truncated_files_are_clear_errors() {
    let path = dir().join("truncated.safetensors");
    let bytes = to_safetensors_bytes(&net::<f32>(1));
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let msg = load_safetensors::<f32>(&path).unwrap_err().to_string();
    assert!(msg.contains("truncated.safetensors") && msg.contains("truncated"), "{msg}");
    // cut inside the header, and before the header length
    assert!(load_err(&bytes[..40]).contains("past the end"), "{}", load_err(&bytes[..40]));
    assert!(load_err(&bytes[..5]).contains("fewer than the 8-byte header length"));
    assert!(load_err(&[]).contains("truncated"));
    let missing = load_safetensors::<f32>(dir().join("no-such-file.safetensors")).unwrap_err();
    assert!(matches!(missing, CheckpointError::Io { .. }) && missing.to_string().contains("no-such-file"));
}

#[test]
fn corrupted_files_are_clear_errors() {
    let good = to_safetensors_bytes(&net::<f32>(1));
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // garbage in the JSON header
    let mut bad = good.clone();
    bad[8] = b'#';
    assert!(load_err(&bad).contains("not valid safetensors JSON"), "{}", load_err(&bad));
    // a header length field far too large
    let mut bad = good.clone();
    bad[7] = 0x7f;
    assert!(load_err(&bad).contains("header length"), "{}", load_err(&bad));
    // trailing bytes
    let mut bad = good.clone();
    bad.extend_from_slice(&[0; 4]);
    assert!(load_err(&bad).contains("trailing bytes"));
    // a shape edited in the header: the byte count no longer matches
    let header = std::str::from_utf8(&good[8..8 + n]).unwrap().replace("[6,5]", "[6,6]");
    let mut bad = good[..8].to_vec();
    bad.extend_from_slice(header.as_bytes());
    bad.extend_from_slice(&good[8 + n..]);
    assert!(load_err(&bad).contains("does not match its shape"), "{}", load_err(&bad));
    // a NaN weight
    let mut bad = good.clone();
    let start = 8 + n; // the first tensor's first element
    bad[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let msg = load_err(&bad);
    assert!(msg.contains("holds NaN at element 0") && msg.contains("layers."), "{msg}");
}

/// A safetensors file with the given tensors (F32 zeros of the given shapes) and metadata.
fn custom(tensors: &[(&str, Vec<usize>, Dtype)], meta: &[(&str, &str)]) -> Vec<u8> {
    let data: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = tensors
        .iter()
        .map(|(name, shape, dtype)| {
            let len = shape.iter().product::<usize>() * dtype.size();
            (name.to_string(), shape.clone(), *dtype, vec![0u8; len])
        })
        .collect();
    let views = data.iter().map(|(n, s, d, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()));
    let meta: HashMap<String, String> = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::tensor::serialize(views, &Some(meta)).unwrap()
}

#[test]
fn shape_dtype_and_metadata_mismatches_are_listed() {
    let arch = [("architecture", "4,3,2"), ("activations", "relu,identity")];
    let ok = custom(
        &[
            ("layers.0.weight", vec![4, 3], Dtype::F32),
            ("layers.0.bias", vec![3], Dtype::F32), // 1-D biases (as numpy users write them) are accepted
            ("layers.1.weight", vec![3, 2], Dtype::F64),
            ("layers.1.bias", vec![1, 2], Dtype::F32),
        ],
        &arch,
    );
    let loaded = from_safetensors_bytes::<f32>(&ok, &PathBuf::from("m")).unwrap();
    assert_eq!(loaded.widths(), vec![4, 3, 2]);

    let bad = custom(
        &[
            ("layers.0.weight", vec![3, 4], Dtype::F32),
            ("layers.0.bias", vec![1, 3], Dtype::I32),
            ("layers.1.weight", vec![3, 2], Dtype::F32),
            ("layers.2.weight", vec![2, 2], Dtype::F32),
        ],
        &arch,
    );
    let msg = load_err(&bad);
    for part in [
        "layers.0.weight: expected shape 4×3, found 3×4",
        "layers.0.bias: dtype I32, expected F32 or F64",
        "layers.1.bias: missing",
        "layers.2.weight: not part of a 4,3,2 network",
    ] {
        assert!(msg.contains(part), "{part} not in: {msg}");
    }

    let tensors = [("layers.0.weight", vec![4, 3], Dtype::F32), ("layers.0.bias", vec![1, 3], Dtype::F32)];
    assert!(load_err(&custom(&tensors, &[("activations", "relu")])).contains("no `architecture` entry"));
    assert!(load_err(&custom(&tensors, &[("architecture", "4,3"), ("activations", "swish")]))
        .contains("unknown activation `swish`"));
    assert!(
        load_err(&custom(&tensors, &[("architecture", "4,x"), ("activations", "relu")])).contains("positive widths")
    );
    assert!(
        load_err(&custom(&tensors, &[("architecture", "4,3"), ("activations", "relu,relu")])).contains("2 activations")
    );

    // loading into a network of another architecture lists every difference
    let path = dir().join("arch.safetensors");
    save_safetensors(&net::<f32>(1), &path).unwrap();
    let mut small: Network<f32> = NetworkBuilder::new(6)
        .dense(5, Activation::Relu)
        .dense(4, Activation::Tanh)
        .dense(3, Activation::Softmax)
        .build(&mut ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    let before = small.clone();
    let msg = load_safetensors_into(&mut small, &path).unwrap_err().to_string();
    assert!(msg.contains("layer 0: the network uses relu but the file leaky_relu:0.01"), "{msg}");
    assert_eq!(small, before, "a failed load changes nothing");
    let mut wider: Network<f32> =
        NetworkBuilder::new(6).dense(7, Activation::Relu).build(&mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let msg = load_safetensors_into(&mut wider, &path).unwrap_err().to_string();
    assert!(msg.contains("the network has widths 6-7 but the file 6-5-4-3"), "{msg}");
}

/// The same network gives the same file, byte for byte (metadata keys sorted,
/// header padded to 8 bytes), and safetensors reads the metadata back.
#[test]
fn the_same_network_gives_the_same_bytes() {
    let first = to_safetensors_bytes(&net::<f32>(4));
    for _ in 0..8 {
        assert_eq!(to_safetensors_bytes(&net::<f32>(4)), first);
    }
    let header_len = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
    assert_eq!(header_len % 8, 0);
    let header = std::str::from_utf8(&first[8..8 + header_len]).unwrap();
    assert!(header.starts_with(r#"{"__metadata__":{"activations":"leaky_relu"#), "{header}");
    let (_, meta) = safetensors::SafeTensors::read_metadata(&first).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["architecture"], "6,5,4,3");
    assert_eq!(from_safetensors_bytes::<f32>(&first, std::path::Path::new("mem")).unwrap(), net::<f32>(4));
}

#[test]
fn metadata_of_the_callers_is_written_sorted_and_reserved_keys_are_refused() {
    let d = dir();
    let (a, b) = (d.join("meta-a.safetensors"), d.join("meta-b.safetensors"));
    let extra = [("preprocessing", "pixels/255 - 0.5"), ("dataset", "mnist")];
    save_safetensors_with(&net::<f32>(4), &a, &extra).unwrap();
    // the same pairs in another order: the same bytes
    save_safetensors_with(&net::<f32>(4), &b, &[extra[1], extra[0]]).unwrap();
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(
        header.starts_with(
            r#"{"__metadata__":{"activations":"leaky_relu:0.01,tanh,softmax","architecture":"6,5,4,3","dataset":"mnist","format":"backprop-rs","preprocessing":"pixels/255 - 0.5"}"#
        ),
        "{header}"
    );
    // the extra keys do not disturb loading
    assert_eq!(load_safetensors::<f32>(&a).unwrap(), net::<f32>(4));
    // without extra pairs: the bytes of save_safetensors
    save_safetensors_with(&net::<f32>(4), &b, &[]).unwrap();
    assert_eq!(std::fs::read(&b).unwrap(), to_safetensors_bytes(&net::<f32>(4)));
    for (bad, what) in
        [(vec![("architecture", "1,1")], "written by the library"), (vec![("k", "1"), ("k", "2")], "twice")]
    {
        let c = d.join("meta-c.safetensors");
        let err = save_safetensors_with(&net::<f32>(4), &c, &bad).unwrap_err();
        assert!(matches!(err, CheckpointError::Metadata { .. }) && err.to_string().contains(what), "{err}");
        assert!(!c.exists(), "nothing written");
    }
}

#[test]
fn non_finite_weights_are_not_saved() {
    let path = dir().join("nan.safetensors");
    let _ = std::fs::remove_file(&path);
    for bad in [f32::NAN, f32::INFINITY] {
        let mut n = net::<f32>(1);
        n.parameters_mut().nth(1).expect("two layers").1[2] = bad;
        let e = save_safetensors(&n, &path).unwrap_err();
        assert!(
            matches!(&e, CheckpointError::NonFinite { tensor, index: 2, .. } if tensor == "layers.1.bias"),
            "{e:?}"
        );
        assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
        // It used to write a file that load_safetensors then refused.
        assert!(!path.exists());
    }
}

#[test]
fn a_non_finite_leaky_relu_slope_is_refused_on_load() {
    let tensors = [("layers.0.weight", vec![4, 3], Dtype::F32), ("layers.0.bias", vec![3], Dtype::F32)];
    for slope in ["NaN", "inf", "-inf", "1e400"] {
        let act = format!("leaky_relu:{slope}");
        let msg = load_err(&custom(&tensors, &[("architecture", "4,3"), ("activations", act.as_str())]));
        assert!(msg.contains("bad model metadata: layer 0: the leaky_relu slope is"), "{slope}: {msg}");
    }
    let fine = custom(&tensors, &[("architecture", "4,3"), ("activations", "leaky_relu:0.2")]);
    assert!(from_safetensors_bytes::<f32>(&fine, &PathBuf::from("m.safetensors")).is_ok());
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_loaded() {
    let e = load_safetensors::<f32>("/dev/zero").unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let fifo = dir().join("model.fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Opening a FIFO blocks until a writer comes: it used to hang here.
    let e = load_safetensors::<f32>(&fifo).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");
    std::fs::remove_file(&fifo).unwrap();
}

/// A training state after a few Adam steps, its history two epochs long.
fn trained_state() -> (Network<f32>, nn_core::OptimizerState<f32>, nn_train::History) {
    use nn_core::{Adam, Optimizer};
    let mut network = net::<f32>(4);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = Matrix::from_fn(40, 6, |_, _| rng.random_range(-1.0f32..1.0));
    let y = Matrix::from_fn(40, 3, |i, j| if i % 3 == j { 1.0f32 } else { 0.0 });
    let mut adam = Adam::new(0.01);
    let config = TrainConfig {
        epochs: 2,
        batch_size: 8,
        threads: Some(1),
        progress: Progress::Silent,
        ..TrainConfig::default()
    };
    let history = Trainer::new(&config)
        .objective(&Loss::SoftmaxCrossEntropy(Reduction::Mean))
        .optimizer(&mut adam)
        .train_set(&x, &y)
        .fit(&mut network)
        .unwrap();
    (network, adam.state(), history)
}

#[test]
fn a_training_state_round_trips_with_its_optimizer_and_history() {
    let (network, state, history) = trained_state();
    let path = dir().join("state.safetensors");
    nn_train::save_training_state(&path, &network, &state, &history, &[("run", "mnist seed=1")]).unwrap();
    let back = nn_train::load_training_state::<f32>(&path).unwrap();
    assert_eq!(back.net, network);
    assert_eq!(back.optimizer, state);
    assert_eq!(back.optimizer.steps, 10);
    assert_eq!(back.history.epochs.len(), 2);
    assert_eq!(back.history.train_losses(), history.train_losses());
    assert_eq!(back.metadata.get("run").map(String::as_str), Some("mnist seed=1"));
    // a model loader refuses it, naming the optimizer's tensors
    let e = load_safetensors::<f32>(&path).unwrap_err().to_string();
    assert!(e.contains("optimizer.m.layers.0.weight: not part of"), "{e}");
    // and a model file is not a training state
    let model = dir().join("model-not-state.safetensors");
    save_safetensors(&network, &model).unwrap();
    let e = nn_train::load_training_state::<f32>(&model).unwrap_err().to_string();
    assert!(e.contains("no `history` entry: a model file, not a training state"), "{e}");
    // reserved keys are refused
    let e = nn_train::save_training_state(&path, &network, &state, &history, &[("history", "x")]).unwrap_err();
    assert!(e.to_string().contains("`history`"), "{e}");
}

#[test]
fn a_training_state_with_a_damaged_optimizer_tensor_is_refused() {
    let (network, mut state, history) = trained_state();
    state.tensors[1].1.layers[2].bias.fill(f32::NAN);
    let path = dir().join("state-nan.safetensors");
    nn_train::save_training_state(&path, &network, &state, &history, &[]).unwrap();
    let e = nn_train::load_training_state::<f32>(&path).unwrap_err().to_string();
    assert!(e.contains("optimizer.v.layers.2.bias holds NaN"), "{e}");
    // a truncated file names itself
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    let e = nn_train::load_training_state::<f32>(&path).unwrap_err().to_string();
    assert!(e.contains("state-nan.safetensors") && e.contains("truncated"), "{e}");
}
