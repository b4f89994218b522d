//! Checkpoints in the [safetensors](https://huggingface.co/docs/safetensors)
//! format, readable from Python with `safetensors.numpy.load_file`.
//!
//! Layer i (from 0) is stored as two row-major tensors,
//! `layers.{i}.weight` (mⁱ × mⁱ⁺¹, so that U = H W + b) and
//! `layers.{i}.bias` (1 × mⁱ⁺¹), of dtype F32 or F64 as the network's
//! scalar. The header metadata holds the architecture:
//!
//! | key | example |
//! |---|---|
//! | `format` | `backprop-rs` |
//! | `architecture` | `784,64,10` (widths m⁰, …, mᴸ) |
//! | `activations` | `relu,softmax` (one [`Activation::name`] per layer) |
//!
//! [`save_safetensors_with`] adds keys of the caller's beside these, e.g.
//! `preprocessing` = `pixels/255 - 0.5`, so that a saved model says how to
//! prepare its inputs; the keys are written in sorted order, so the same
//! network and metadata give the same bytes.
//!
//! Saving writes a temporary file and renames it. Loading checks the
//! header, the metadata, every tensor's presence, dtype and shape (listing
//! every mismatch) and that every weight is finite; a truncated or
//! corrupted file is an error that says so, never a panic. F32 and F64 files
//! load into either scalar type: F32 → f64 is exact (each f32 is an f64),
//! F64 → f32 rounds to nearest (and a value beyond f32's range is refused as
//! non-finite). A leaky ReLU slope in the metadata must be finite. Only a
//! regular file of at most [`CHECKPOINT_MAX_BYTES`] is read. Saving refuses
//! NaN or infinite weights, which loading would refuse.
//!
//! ```
//! use nn_core::{Activation, Matrix, NetworkBuilder};
//! use nn_train::{load_safetensors, save_safetensors};
//! use rand::SeedableRng;
//! let net = NetworkBuilder::new(3)
//!     .dense(4, Activation::Relu)
//!     .dense(2, Activation::Softmax)
//!     .build::<f32, _>(&mut rand::rngs::StdRng::seed_from_u64(1))
//!     .unwrap();
//! let path = std::env::temp_dir().join(format!("nn-train-doc-{}.safetensors", std::process::id()));
//! save_safetensors(&net, &path).unwrap();
//! let back = load_safetensors::<f32>(&path).unwrap();
//! assert_eq!(back, net);
//! let x = Matrix::from_fn(5, 3, |i, j| (i + j) as f32);
//! assert_eq!(back.predict(x.view()).unwrap(), net.predict(x.view()).unwrap());
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use nn_core::{Activation, Dense, Float, Gradients, Matrix, Network, OptimizerState};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};

use crate::atomic::write_atomic;
use crate::error::CheckpointError;
use crate::history::History;

/// The largest checkpoint file [`load_safetensors`] reads: 4 GiB, a billion
/// f32 parameters, far past any network this project trains.
pub const CHECKPOINT_MAX_BYTES: u64 = 4 << 30;

/// The `format` value written into the metadata.
pub const FORMAT: &str = "backprop-rs";

/// The name of layer `i`'s weight tensor.
pub fn weight_name(i: usize) -> String {
    format!("layers.{i}.weight")
}

/// The name of layer `i`'s bias tensor.
pub fn bias_name(i: usize) -> String {
    format!("layers.{i}.bias")
}

fn dtype_of<T: Float>() -> Dtype {
    if T::NAME == "f64" {
        Dtype::F64
    } else {
        Dtype::F32
    }
}

fn le_bytes<T: Float>(m: &Matrix<T>) -> Vec<u8> {
    match dtype_of::<T>() {
        Dtype::F64 => m.as_slice().iter().flat_map(|v| v.to_f64().to_le_bytes()).collect(),
        _ => m.as_slice().iter().flat_map(|v| (v.to_f64() as f32).to_le_bytes()).collect(),
    }
}

/// The metadata keys the library writes itself; [`save_safetensors_with`] refuses them.
pub const RESERVED_KEYS: [&str; 3] = ["format", "architecture", "activations"];

/// The safetensors bytes of `net` (see the module docs for the layout).
pub fn to_safetensors_bytes<T: Float>(net: &Network<T>) -> Vec<u8> {
    bytes_with(net, &[])
}

/// The bytes of `net` with `extra` metadata beside the library's own keys
/// (the caller has checked that none is reserved or repeated).
fn bytes_with<T: Float>(net: &Network<T>, extra: &[(&str, &str)]) -> Vec<u8> {
    bytes_with_tensors(net, extra, Vec::new())
}

/// As [`bytes_with`], with more tensors (name, shape, little-endian bytes) after the network's.
fn bytes_with_tensors<T: Float>(
    net: &Network<T>,
    extra: &[(&str, &str)],
    more: Vec<(String, Vec<usize>, Vec<u8>)>,
) -> Vec<u8> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, layer) in net.layers().iter().enumerate() {
        tensors.push((weight_name(i), vec![layer.inputs(), layer.outputs()], le_bytes(layer.weights())));
        tensors.push((bias_name(i), vec![1, layer.outputs()], le_bytes(layer.bias())));
    }
    tensors.extend(more);
    let views = tensors.iter().map(|(name, shape, bytes)| {
        let view = TensorView::new(dtype_of::<T>(), shape.clone(), bytes)
            .expect("byte length is rows × cols × dtype size by construction");
        (name.as_str(), view)
    });
    let widths: Vec<String> = net.widths().iter().map(usize::to_string).collect();
    let activations: Vec<String> = net.layers().iter().map(|l| l.activation().name()).collect();
    let mut metadata = BTreeMap::from([
        ("format", FORMAT.to_string()),
        ("architecture", widths.join(",")),
        ("activations", activations.join(",")),
    ]);
    metadata.extend(extra.iter().map(|&(k, v)| (k, v.to_string())));
    let plain = safetensors::tensor::serialize(views, &None)
        .expect("serialising in-memory tensors of consistent shapes cannot fail");
    with_metadata(&plain, &metadata)
}

/// `plain` (a safetensors file without metadata) with `metadata` added to its
/// header, keys in sorted order. safetensors' own writer takes the metadata
/// as a `HashMap`, whose order changes from run to run; this keeps the same
/// network's file the same, byte for byte. The header stays padded with
/// spaces to a multiple of 8 bytes, and data offsets are relative to the end
/// of the header, so they do not change.
fn with_metadata(plain: &[u8], metadata: &BTreeMap<&str, String>) -> Vec<u8> {
    let n = u64::from_le_bytes(plain[..8].try_into().expect("8-byte length prefix")) as usize;
    let header = std::str::from_utf8(&plain[8..8 + n]).expect("safetensors writes a UTF-8 header").trim_end();
    let rest = header.strip_prefix('{').expect("the header is a JSON object");
    let meta = serde_json::to_string(metadata).expect("a map of strings is valid JSON");
    let comma = if rest.trim_start().starts_with('}') { "" } else { "," };
    let mut out_header = format!("{{\"__metadata__\":{meta}{comma}{rest}");
    while out_header.len() % 8 != 0 {
        out_header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + out_header.len() + plain.len() - 8 - n);
    out.extend_from_slice(&(out_header.len() as u64).to_le_bytes());
    out.extend_from_slice(out_header.as_bytes());
    out.extend_from_slice(&plain[8 + n..]);
    out
}

/// Saves `net` to `path` in the safetensors format, through a temporary file
/// and a rename, so a crash never leaves a half-written checkpoint.
///
/// Errors with [`CheckpointError::NonFinite`], writing nothing, if a weight
/// or bias is NaN or infinite (such a file could not be loaded).
pub fn save_safetensors<T: Float>(net: &Network<T>, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    check_finite(net.layers(), path)?;
    write_atomic(path, &to_safetensors_bytes(net)).map_err(|source| CheckpointError::Io { path: path.into(), source })
}

/// Saves `net` as [`save_safetensors`] does, with `extra` (key, value) pairs
/// added to the header's metadata, e.g. `("preprocessing", "pixels/255 - 0.5")`.
/// Keys are written in sorted order, so the bytes depend only on the network
/// and the pairs.
///
/// Errors with [`CheckpointError::Metadata`], writing nothing, if a key is
/// one the library writes ([`RESERVED_KEYS`]) or appears twice; and as
/// [`save_safetensors`] for non-finite weights.
///
/// ```
/// use nn_core::{Activation, NetworkBuilder};
/// use rand::SeedableRng;
/// let net = NetworkBuilder::new(2).dense(1, Activation::Sigmoid).build::<f32, _>(&mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
/// let path = std::env::temp_dir().join(format!("nn-train-meta-{}.safetensors", std::process::id()));
/// nn_train::checkpoint::save_safetensors_with(&net, &path, &[("preprocessing", "x/255")]).unwrap();
/// let bytes = std::fs::read(&path).unwrap();
/// assert!(String::from_utf8_lossy(&bytes).contains(r#""preprocessing":"x/255""#));
/// assert!(nn_train::checkpoint::save_safetensors_with(&net, &path, &[("format", "mine")]).is_err());
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_safetensors_with<T: Float>(
    net: &Network<T>,
    path: impl AsRef<Path>,
    extra: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    for (i, (key, _)) in extra.iter().enumerate() {
        let reason = if RESERVED_KEYS.contains(key) {
            format!("the key `{key}` is written by the library itself; use another name")
        } else if extra[..i].iter().any(|(k, _)| k == key) {
            format!("the key `{key}` is given twice")
        } else {
            continue;
        };
        return Err(CheckpointError::Metadata { path: path.into(), reason });
    }
    check_finite(net.layers(), path)?;
    write_atomic(path, &bytes_with(net, extra)).map_err(|source| CheckpointError::Io { path: path.into(), source })
}

/// Loads a network saved by [`save_safetensors`] (or any safetensors file
/// with the same tensor names and metadata).
///
/// The file's dtype need not be `T`'s: an F32 file loads as f64 exactly
/// (every f32 is an f64), an F64 file as f32 rounded to nearest. Errors if
/// the path is not a regular file, is larger than [`CHECKPOINT_MAX_BYTES`],
/// or holds anything but a valid network (see the module docs).
pub fn load_safetensors<T: Float>(path: impl AsRef<Path>) -> Result<Network<T>, CheckpointError> {
    let path = path.as_ref();
    let bytes = nn_data::file::read_regular(path, CHECKPOINT_MAX_BYTES)
        .map_err(|source| CheckpointError::Io { path: path.into(), source })?;
    from_safetensors_bytes(&bytes, path)
}

/// Loads the weights of the file at `path` into `net`, which must have the
/// same architecture (widths and activations); every difference is listed.
pub fn load_safetensors_into<T: Float>(net: &mut Network<T>, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let loaded = load_safetensors::<T>(path)?;
    let (want, found) = (net.widths(), loaded.widths());
    let mut problems = Vec::new();
    if want != found {
        problems.push(format!("the network has widths {} but the file {}", join(&want), join(&found)));
    }
    for (i, (a, b)) in net.layers().iter().zip(loaded.layers()).enumerate() {
        if a.activation() != b.activation() {
            problems.push(format!(
                "layer {i}: the network uses {} but the file {}",
                a.activation().name(),
                b.activation().name()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch { path: path.into(), problems });
    }
    for ((w, b), src) in net.parameters_mut().zip(loaded.layers()) {
        w.copy_from_slice(src.weights().as_slice());
        b.copy_from_slice(src.bias().as_slice());
    }
    Ok(())
}

fn join(w: &[usize]) -> String {
    w.iter().map(usize::to_string).collect::<Vec<_>>().join("-")
}

/// Why safetensors refused the bytes, in words.
fn explain(e: &SafeTensorError, len: usize) -> String {
    match e {
        SafeTensorError::HeaderTooSmall => {
            format!("the file has {len} bytes, fewer than the 8-byte header length (truncated?)")
        }
        SafeTensorError::InvalidHeaderLength => {
            format!("the header length field points past the end of the {len}-byte file (truncated or corrupted)")
        }
        SafeTensorError::HeaderTooLarge => {
            "the header length field is implausibly large (corrupted, or not a safetensors file)".into()
        }
        SafeTensorError::InvalidHeader | SafeTensorError::InvalidHeaderStart => {
            "the header is not UTF-8 text (corrupted)".into()
        }
        SafeTensorError::InvalidHeaderDeserialization => "the header is not valid safetensors JSON (corrupted)".into(),
        SafeTensorError::MetadataIncompleteBuffer => format!(
            "the tensor data declared in the header does not match the {len}-byte file (truncated, or trailing bytes)"
        ),
        SafeTensorError::InvalidOffset(name) => format!("tensor {name} has inconsistent data offsets (corrupted)"),
        SafeTensorError::TensorInvalidInfo => {
            "a tensor's byte length does not match its shape and dtype (corrupted)".into()
        }
        SafeTensorError::ValidationOverflow => "a tensor's shape overflows (corrupted)".into(),
        other => other.to_string(),
    }
}

/// Decodes safetensors `bytes` (named `origin` in errors) into a network.
pub fn from_safetensors_bytes<T: Float>(bytes: &[u8], origin: &Path) -> Result<Network<T>, CheckpointError> {
    decode(bytes, origin, false)
}

/// Decodes a network; with `training_state`, tensors named `optimizer.…`
/// are left for [`load_training_state`] instead of refused.
fn decode<T: Float>(bytes: &[u8], origin: &Path, training_state: bool) -> Result<Network<T>, CheckpointError> {
    let format_err = |reason: String| CheckpointError::Format { path: origin.into(), reason };
    let meta_err = |reason: String| CheckpointError::Metadata { path: origin.into(), reason };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| format_err(explain(&e, bytes.len())))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| format_err(explain(&e, bytes.len())))?;
    let info = metadata.metadata().as_ref().ok_or_else(|| meta_err("no __metadata__ with the architecture".into()))?;
    let get = |key: &str| info.get(key).ok_or_else(|| meta_err(format!("no `{key}` entry")));
    let architecture = get("architecture")?;
    let widths = architecture
        .split(',')
        .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
        .collect::<Option<Vec<usize>>>()
        .filter(|w| w.len() >= 2)
        .ok_or_else(|| {
            meta_err(format!("architecture `{architecture}` is not a list of at least two positive widths"))
        })?;
    let activations = get("activations")?
        .split(',')
        .map(|name| Activation::from_name(name.trim()).ok_or_else(|| meta_err(format!("unknown activation `{name}`"))))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((i, a)) = activations.iter().enumerate().find_map(|(i, act)| match act {
        Activation::LeakyRelu(a) if !a.is_finite() => Some((i, *a)),
        _ => None,
    }) {
        return Err(meta_err(format!("layer {i}: the leaky_relu slope is {a}; it must be finite")));
    }
    if activations.len() != widths.len() - 1 {
        return Err(meta_err(format!(
            "{} activations for the {} layers of architecture {architecture}",
            activations.len(),
            widths.len() - 1
        )));
    }
    let mut problems = Vec::new();
    let mut read = |name: String, rows: usize, cols: usize| -> Option<Matrix<T>> {
        let Ok(view) = tensors.tensor(&name) else {
            problems.push(format!("{name}: missing"));
            return None;
        };
        let shape = view.shape().to_vec();
        let fits = shape == [rows, cols] || (rows == 1 && shape == [cols]);
        if !fits {
            let found = shape.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
            problems.push(format!("{name}: expected shape {rows}×{cols}, found {found}"));
            return None;
        }
        let Some(values) = values_of::<T>(&view) else {
            problems.push(format!("{name}: dtype {:?}, expected F32 or F64", view.dtype()));
            return None;
        };
        Matrix::from_vec(rows, cols, values).ok()
    };
    let mut layers = Vec::with_capacity(activations.len());
    let mut refused = Vec::new();
    for (i, act) in activations.iter().enumerate() {
        let w = read(weight_name(i), widths[i], widths[i + 1]);
        let b = read(bias_name(i), 1, widths[i + 1]);
        if let (Some(w), Some(b)) = (w, b) {
            match Dense::new(w, b, *act) {
                Ok(layer) => layers.push(layer),
                Err(e) => refused.push(format!("layer {i}: {e}")),
            }
        }
    }
    problems.extend(refused);
    let expected: Vec<String> = (0..activations.len()).flat_map(|i| [weight_name(i), bias_name(i)]).collect();
    let ours = |n: &String| expected.contains(n) || (training_state && n.starts_with(OPTIMIZER_PREFIX));
    let mut extra: Vec<&String> = tensors.names().into_iter().filter(|n| !ours(n)).collect();
    extra.sort();
    problems.extend(extra.into_iter().map(|n| format!("{n}: not part of a {architecture} network")));
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch { path: origin.into(), problems });
    }
    check_finite(&layers, origin)?;
    Network::new(layers).map_err(|e| meta_err(e.to_string()))
}

/// A [`CheckpointError::NonFinite`] for the first NaN or infinite value of
/// `layers` (weights, then bias, layer by layer), naming `path`.
fn check_finite<T: Float>(layers: &[Dense<T>], path: &Path) -> Result<(), CheckpointError> {
    for (i, layer) in layers.iter().enumerate() {
        for (name, m) in [(weight_name(i), layer.weights()), (bias_name(i), layer.bias())] {
            if let Some(k) = m.as_slice().iter().position(|v| !v.is_finite()) {
                let value = m.as_slice()[k].to_f64();
                return Err(CheckpointError::NonFinite { path: path.into(), tensor: name, index: k, value });
            }
        }
    }
    Ok(())
}

/// Tensor names of an optimizer's state start with this, then the state's
/// name and the parameter's: `optimizer.m.layers.0.weight`.
const OPTIMIZER_PREFIX: &str = "optimizer.";

/// Metadata keys of a training state (beside the model's own).
const STATE_KEYS: [&str; 4] = ["training_epoch", "optimizer_steps", "optimizer_tensors", "history"];

/// What [`load_training_state`] returns: everything [`save_training_state`]
/// saved at the end of an epoch, to go on with
/// [`Trainer::resume`](crate::Trainer::resume) and
/// [`Optimizer::set_state`](nn_core::Optimizer::set_state).
#[derive(Clone, Debug)]
pub struct TrainingState<T> {
    /// The network after the epoch.
    pub net: Network<T>,
    /// The optimizer's state after it.
    pub optimizer: OptimizerState<T>,
    /// The records of every epoch so far.
    pub history: History,
    /// The caller's own metadata (e.g. what run this is, to refuse resuming another).
    pub metadata: BTreeMap<String, String>,
}

/// Saves a training state (the network, the optimizer's state, the history
/// so far, and `extra` metadata of the caller's) to `path`, through a
/// temporary file and a rename, in one safetensors file: the network's
/// tensors as in a model file, the optimizer's as
/// `optimizer.<name>.layers.<i>.weight|bias`, the epoch, the step count and
/// the history (JSON) in the metadata. ([`load_safetensors`] refuses it,
/// naming the optimizer's tensors: a model is saved on its own.)
///
/// ```
/// use nn_core::{Activation, Adam, Gradients, NetworkBuilder, Optimizer};
/// use nn_train::checkpoint::{load_training_state, save_training_state};
/// use rand::SeedableRng;
/// let mut net = NetworkBuilder::new(2).dense(1, Activation::Sigmoid).build::<f32, _>(&mut rand::rngs::StdRng::seed_from_u64(1))?;
/// let mut adam = Adam::new(0.1);
/// let mut g = Gradients::zeros_like(&net);
/// g.layers[0].weights.fill(0.5);
/// adam.step(&mut net, &g)?;
/// let path = std::env::temp_dir().join(format!("nn-train-state-{}.safetensors", std::process::id()));
/// let history = nn_train::History::default();
/// save_training_state(&path, &net, &adam.state(), &history, &[("run", "doc")])?;
/// let back = load_training_state::<f32>(&path)?;
/// assert_eq!((back.net, back.optimizer, back.metadata["run"].as_str()), (net, adam.state(), "doc"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_training_state<T: Float>(
    path: impl AsRef<Path>,
    net: &Network<T>,
    optimizer: &OptimizerState<T>,
    history: &History,
    extra: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let meta_err = |reason: String| CheckpointError::Metadata { path: path.into(), reason };
    for (i, (key, _)) in extra.iter().enumerate() {
        if RESERVED_KEYS.contains(key) || STATE_KEYS.contains(key) || extra[..i].iter().any(|(k, _)| k == key) {
            return Err(meta_err(format!("the key `{key}` is the library's own or given twice; use another name")));
        }
    }
    check_finite(net.layers(), path)?;
    let mut more = Vec::new();
    for (name, g) in &optimizer.tensors {
        if name.is_empty() || name.contains(['.', ',']) {
            return Err(meta_err(format!("optimizer tensor name `{name}`: it must be non-empty, without `.` or `,`")));
        }
        for (i, layer) in g.layers.iter().enumerate() {
            more.push((
                format!("{OPTIMIZER_PREFIX}{name}.{}", weight_name(i)),
                vec![layer.weights.rows(), layer.weights.cols()],
                le_bytes(&layer.weights),
            ));
            more.push((
                format!("{OPTIMIZER_PREFIX}{name}.{}", bias_name(i)),
                vec![1, layer.bias.cols()],
                le_bytes(&layer.bias),
            ));
        }
    }
    let history_json =
        serde_json::to_string(history).map_err(|e| meta_err(format!("cannot encode the history: {e}")))?;
    let names: Vec<&str> = optimizer.tensors.iter().map(|(n, _)| n.as_str()).collect();
    let (epoch, steps, names) = (history.epochs.len().to_string(), optimizer.steps.to_string(), names.join(","));
    let mut meta: Vec<(&str, &str)> = vec![
        ("training_epoch", &epoch),
        ("optimizer_steps", &steps),
        ("optimizer_tensors", &names),
        ("history", &history_json),
    ];
    meta.extend_from_slice(extra);
    let bytes = bytes_with_tensors(net, &meta, more);
    write_atomic(path, &bytes).map_err(|source| CheckpointError::Io { path: path.into(), source })
}

/// Loads what [`save_training_state`] saved, checking it as
/// [`load_safetensors`] checks a model, and the optimizer's tensors against
/// the network's shapes.
pub fn load_training_state<T: Float>(path: impl AsRef<Path>) -> Result<TrainingState<T>, CheckpointError> {
    let path = path.as_ref();
    let bytes = nn_data::file::read_regular(path, CHECKPOINT_MAX_BYTES)
        .map_err(|source| CheckpointError::Io { path: path.into(), source })?;
    let net = decode::<T>(&bytes, path, true)?;
    let meta_err = |reason: String| CheckpointError::Metadata { path: path.into(), reason };
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| CheckpointError::Format { path: path.into(), reason: explain(&e, bytes.len()) })?;
    let info = header.metadata().clone().unwrap_or_default();
    let get = |key: &str| {
        info.get(key).ok_or_else(|| meta_err(format!("no `{key}` entry: a model file, not a training state")))
    };
    let history: History =
        serde_json::from_str(get("history")?).map_err(|e| meta_err(format!("the history is not valid: {e}")))?;
    let epoch: usize = get("training_epoch")?.parse().map_err(|_| meta_err("training_epoch is not a number".into()))?;
    if history.epochs.len() != epoch || history.epochs.iter().enumerate().any(|(i, r)| r.epoch != i + 1) {
        return Err(meta_err(format!("the history does not hold epochs 1 to {epoch} in order")));
    }
    let steps: u64 = get("optimizer_steps")?.parse().map_err(|_| meta_err("optimizer_steps is not a number".into()))?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| CheckpointError::Format { path: path.into(), reason: explain(&e, bytes.len()) })?;
    let mut state = OptimizerState { steps, tensors: Vec::new() };
    let mut problems = Vec::new();
    let names = get("optimizer_tensors")?;
    for name in names.split(',').filter(|n| !n.is_empty()) {
        let mut g = Gradients::zeros_like(&net);
        for (i, layer) in g.layers.iter_mut().enumerate() {
            for (tensor, m) in [(weight_name(i), &mut layer.weights), (bias_name(i), &mut layer.bias)] {
                let full = format!("{OPTIMIZER_PREFIX}{name}.{tensor}");
                match tensors.tensor(&full) {
                    Ok(view) if view.shape().iter().product::<usize>() == m.as_slice().len() => {
                        match values_of::<T>(&view) {
                            Some(v) => m.as_mut_slice().copy_from_slice(&v),
                            None => problems.push(format!("{full}: dtype {:?}, expected F32 or F64", view.dtype())),
                        }
                    }
                    Ok(view) => {
                        problems.push(format!("{full}: shape {:?}, expected {}×{}", view.shape(), m.rows(), m.cols()))
                    }
                    Err(_) => problems.push(format!("{full}: missing")),
                }
            }
        }
        state.tensors.push((name.to_string(), g));
    }
    let listed: Vec<&str> = names.split(',').filter(|n| !n.is_empty()).collect();
    for n in tensors.names() {
        let owner = n.strip_prefix(OPTIMIZER_PREFIX).and_then(|rest| rest.split('.').next());
        if owner.is_some_and(|o| !listed.contains(&o)) {
            problems.push(format!("{n}: not one of the optimizer tensors [{names}]"));
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(CheckpointError::Mismatch { path: path.into(), problems });
    }
    for (name, g) in &state.tensors {
        for (i, layer) in g.layers.iter().enumerate() {
            for (tensor, m) in [(weight_name(i), &layer.weights), (bias_name(i), &layer.bias)] {
                if let Some(k) = m.as_slice().iter().position(|v| !v.is_finite()) {
                    let value = m.as_slice()[k].to_f64();
                    let tensor = format!("{OPTIMIZER_PREFIX}{name}.{tensor}");
                    return Err(CheckpointError::NonFinite { path: path.into(), tensor, index: k, value });
                }
            }
        }
    }
    let metadata = info
        .into_iter()
        .filter(|(k, _)| !RESERVED_KEYS.contains(&k.as_str()) && !STATE_KEYS.contains(&k.as_str()))
        .collect();
    Ok(TrainingState { net, optimizer: state, history, metadata })
}

/// A tensor's values as T (F32 or F64 data), or `None` for another dtype.
fn values_of<T: Float>(view: &TensorView<'_>) -> Option<Vec<T>> {
    match view.dtype() {
        Dtype::F32 => Some(
            view.data()
                .chunks_exact(4)
                .map(|c| T::from_f64(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                .collect(),
        ),
        Dtype::F64 => Some(
            view.data()
                .chunks_exact(8)
                .map(|c| T::from_f64(f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])))
                .collect(),
        ),
        _ => None,
    }
}
