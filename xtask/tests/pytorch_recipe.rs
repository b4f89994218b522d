//! The README's PyTorch recipe, `xtask/python/load_in_pytorch.py`: a model
//! trained here, loaded into `torch.nn.Linear` layers by the script, scores
//! the same test accuracy as the model in Rust.
//!
//! It needs Python with torch, safetensors and numpy (`python3`, or the
//! interpreter in `PYTHON`). Without them the test does not run the script,
//! and says so on the terminal (past cargo's output capture) instead of
//! passing as if it had checked anything.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use nn_data::Normalisation;
use xtask::{reproduce, Experiment, RunOptions};

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Why the recipe cannot run here, if it cannot.
fn missing_python_modules() -> Option<String> {
    match Command::new(python()).args(["-c", "import torch, safetensors, numpy"]).output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("").to_string()),
        Err(e) => Some(format!("{}: {e}", python())),
    }
}

#[test]
fn the_readme_quotes_the_script_as_it_is() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let script = std::fs::read_to_string(root.join("xtask/python/load_in_pytorch.py")).unwrap();
    let section = readme.split("### In PyTorch").nth(1).expect("README has a PyTorch section");
    let quoted = section.split("```python\n").nth(1).and_then(|b| b.split("```").next()).expect("a python block");
    assert!(quoted.contains("def load(path):"), "{quoted}");
    assert!(script.contains(quoted), "README's PyTorch block differs from the script:\n{quoted}");
}

#[test]
fn the_pytorch_recipe_scores_what_rust_scores() {
    if let Some(why) = missing_python_modules() {
        // Written to the terminal directly: cargo's capture would hide a println!.
        let _ = writeln!(
            std::io::stderr(),
            "\nNOT RUN: the PyTorch recipe (xtask/python/load_in_pytorch.py) was not checked: \
             `{} -c \"import torch, safetensors, numpy\"` failed ({why}).",
            python()
        );
        return;
    }
    let out = std::env::temp_dir().join(format!("xtask-pytorch-{}", std::process::id()));
    let opts =
        RunOptions { epochs: Some(1), limit: Some(3000), out: Some(out.clone()), quiet: true, ..Default::default() };
    reproduce(Experiment::Mnist, &opts).unwrap();
    let model = out.join("model.safetensors");

    // Rust's accuracy on the whole test set (the run's table uses the --limit part).
    let net = nn_train::load_safetensors::<f32>(&model).unwrap();
    let test = nn_data::mnist_pixels::<f32>(opts.data_dir.join("mnist"), Normalisation::Centered)
        .unwrap()
        .test
        .to_dataset()
        .unwrap();
    let predicted = nn_data::argmax_rows(&net.predict(test.x.view()).unwrap());
    let labels = test.labels.clone().unwrap();
    let right = predicted.iter().zip(&labels).filter(|(p, l)| p == l).count();
    let rust = format!("test accuracy {:.4}", right as f64 / labels.len() as f64);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/load_in_pytorch.py");
    let run = Command::new(python()).arg(&script).arg(&model).arg(opts.data_dir.join("mnist")).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("'preprocessing': 'pixels/255 - 0.5"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some(rust.as_str()), "{stdout}");
    std::fs::remove_dir_all(&out).unwrap();
}
