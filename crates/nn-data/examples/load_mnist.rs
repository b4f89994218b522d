//! Times the MNIST loader and reports its memory: how long reading the
//! 60 000 training images (gzip → u8) takes, how many bytes the u8 copy
//! holds, the process's peak resident memory, and the cost of converting to
//! f32. Run in release:
//!
//! ```text
//! cargo run --release -p nn-data --example load_mnist [-- DIR]
//! ```

use std::time::Instant;

use nn_data::mnist::{mnist_u8, read_images, Normalisation};

/// A field of /proc/self/status in kB (Linux only; `None` elsewhere).
fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mb(bytes: f64) -> String {
    format!("{:.1} MB ({:.1} MiB)", bytes / 1e6, bytes / (1024.0 * 1024.0))
}

fn main() -> Result<(), nn_data::DataError> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "datasets/mnist".to_string());
    let images_path = std::path::Path::new(&dir).join("train-images-idx3-ubyte.gz");

    let before = status_kb("VmRSS:");
    let t = Instant::now();
    let images = read_images(&images_path)?;
    let first = t.elapsed().as_secs_f64();
    println!("train images: {} × {} × {}", images.count, images.rows, images.cols);
    println!("u8 copy: {} bytes = {}", images.pixels.len(), mb(images.pixels.len() as f64));
    println!("  allocated capacity: {} bytes", images.pixels.capacity());
    if let (Some(b), Some(rss), Some(hwm)) = (before, status_kb("VmRSS:"), status_kb("VmHWM:")) {
        println!(
            "process RSS before {}, after {}, peak during the read {}",
            mb(b as f64 * 1024.0),
            mb(rss as f64 * 1024.0),
            mb(hwm as f64 * 1024.0)
        );
    }
    drop(images);
    // Repeat the read (one copy alive at a time) and keep the best and the median.
    let mut times = vec![first];
    for _ in 0..4 {
        let t = Instant::now();
        let im = read_images(&images_path)?;
        times.push(t.elapsed().as_secs_f64());
        drop(im);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "read 60 000 training images (gunzip + IDX parse), 5 runs: best {:.3} s, median {:.3} s, first {:.3} s",
        times[0], times[2], first
    );

    let t = Instant::now();
    let all = mnist_u8(&dir)?;
    println!("all four files as u8: {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let x = all.train.images.to_matrix::<f32>(Normalisation::Centered);
    println!(
        "convert train to f32 (p/255 − 0.5): {:.3} s, {}",
        t.elapsed().as_secs_f64(),
        mb((x.as_slice().len() * 4) as f64)
    );
    let t = Instant::now();
    let m = nn_data::mnist::<f32>(&dir, Normalisation::Centered)?;
    println!("nn_data::mnist::<f32> (load + convert train and test): {:.3} s", t.elapsed().as_secs_f64());
    if let Some(hwm) = status_kb("VmHWM:") {
        println!("process peak RSS after everything: {}", mb(hwm as f64 * 1024.0));
    }
    assert_eq!(m.train.len(), 60_000);
    Ok(())
}
