//! The loaders on the real files in `datasets/`: shapes, label counts from
//! datasets/README.md, and pixel values checked against an independent decode
//! (Python's gzip module reading the same files).

mod common;

use common::datasets;
use nn_data::mnist::{mnist_u8, Normalisation};

const TRAIN_COUNTS: [usize; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

#[test]
fn mnist_u8_label_counts_and_known_pixels() {
    let m = mnist_u8(datasets().join("mnist")).unwrap();
    assert_eq!((m.train.images.count, m.train.images.rows, m.train.images.cols), (60_000, 28, 28));
    assert_eq!(m.train.images.pixels.len(), 47_040_000);
    assert_eq!(m.test.images.count, 10_000);
    assert_eq!(m.train.label_counts(10), TRAIN_COUNTS);
    assert_eq!(m.test.label_counts(10), TEST_COUNTS);

    let tr = &m.train;
    assert_eq!(tr.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(tr.labels[59_999], 8);
    assert_eq!(tr.images.pixel(0, 5, 12), 3);
    assert_eq!(tr.images.pixel(0, 5, 16), 126);
    assert_eq!(tr.images.pixel(0, 14, 14), 240);
    assert_eq!(tr.images.pixel(0, 6, 6), 0);
    assert_eq!(tr.images.image(0).iter().map(|&p| u32::from(p)).sum::<u32>(), 27_525);
    assert_eq!(tr.images.image(0).iter().filter(|&&p| p != 0).count(), 166);
    assert_eq!(tr.images.image(59_999).iter().map(|&p| u32::from(p)).sum::<u32>(), 20_920);
    assert_eq!(tr.images.pixels.iter().map(|&p| u64::from(p)).sum::<u64>(), 1_567_298_545);

    let te = &m.test;
    assert_eq!(te.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(te.labels[9_999], 6);
    assert_eq!(te.images.pixel(0, 7, 6), 84);
    assert_eq!(te.images.pixel(0, 7, 7), 185);
    assert_eq!(te.images.pixels.iter().map(|&p| u64::from(p)).sum::<u64>(), 264_923_200);
}

#[test]
fn mnist_matrices_normalise_and_split_like_the_tutorials() {
    let m = nn_data::mnist::<f32>(datasets().join("mnist"), Normalisation::Centered).unwrap();
    assert_eq!((m.train.x.shape(), m.train.y.shape()), ((60_000, 784), (60_000, 10)));
    assert_eq!((m.test.x.shape(), m.test.y.shape()), ((10_000, 784), (10_000, 10)));
    // Pixel (14, 14) of image 0 is 240: 240/255 − 0.5.
    assert_eq!(m.train.x.get(0, 14 * 28 + 14), 240.0 / 255.0 - 0.5);
    assert_eq!(m.train.x.get(0, 0), -0.5);
    assert_eq!(m.train.y.row(0), &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(nn_data::argmax_rows(&m.test.y)[..3], [7, 2, 1]);

    let n = m.nielsen_split().unwrap();
    assert_eq!((n.train.len(), n.validation.len(), n.test.len()), (50_000, 10_000, 10_000));
    assert_eq!(n.train.labels.as_ref().unwrap()[0], 5);
    assert_eq!(n.validation.labels.as_ref().unwrap()[9_999], 8);
    assert_eq!(n.validation.x.row(9_999).len(), 784);

    let unit = nn_data::mnist::<f64>(datasets().join("mnist"), Normalisation::Unit).unwrap();
    assert_eq!(unit.train.x.get(0, 5 * 28 + 16), 126.0 / 255.0);
}

#[test]
fn boston_shape_names_and_first_rows() {
    let ds = nn_data::boston::<f64>(datasets().join("boston_house_prices.csv")).unwrap();
    assert_eq!((ds.x.shape(), ds.y.shape()), ((506, 13), (506, 1)));
    let names = ds.feature_names.as_ref().unwrap();
    assert_eq!(names, &nn_data::boston::BOSTON_FEATURES);
    assert_eq!(ds.x.row(0), &[0.00632, 18.0, 2.31, 0.0, 0.538, 6.575, 65.2, 4.09, 1.0, 296.0, 15.3, 396.9, 4.98]);
    assert_eq!(ds.y.get(0, 0), 24.0);
    assert_eq!(ds.x.row(1)[12], 9.14);
    assert_eq!(ds.y.get(1, 0), 21.6);
    assert_eq!(ds.x.row(505)[12], 7.88);
    assert_eq!(ds.y.get(505, 0), 11.9);
    assert!(ds.labels.is_none());
}

#[test]
fn digits_shape_labels_and_first_rows() {
    let ds = nn_data::digits::<f32>(datasets().join("digits.csv.gz")).unwrap();
    assert_eq!((ds.x.shape(), ds.y.shape()), ((1797, 64), (1797, 10)));
    let labels = ds.labels.as_ref().unwrap();
    assert_eq!(labels[..10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(labels[1796], 8);
    let mut counts = [0usize; 10];
    labels.iter().for_each(|&l| counts[l] += 1);
    assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    assert_eq!(&ds.x.row(0)[..12], &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0, 0.0, 0.0, 13.0, 15.0]);
    assert_eq!(ds.x.as_slice().iter().cloned().fold(0.0f32, f32::max), 16.0);
    assert_eq!(nn_data::argmax_rows(&ds.y), *labels);
}
