//! PNG plots with plotters' bitmap back end: line and scatter charts (per-epoch
//! curves, predicted vs actual, target and prediction vs x) and a
//! confusion-matrix heat map.
//!
//! A chart can carry what it reproduces beside the data ([`Overlay`]): the
//! tutorial's printed figures as marks with their values written beside
//! them, and the band its own code reaches as a shaded span, each with its
//! own legend entry. The legend goes to the corner where it hides the least
//! (the y axis is stretched upwards when every corner is taken), y ticks are
//! round numbers (1, 2, 5 × 10ᵏ, on log axes too), and a title too wide for
//! the image is wrapped onto more lines instead of being clipped.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (`assets/`, its
//! licence beside it) and registered with plotters as `sans-serif`, so plots
//! need no system fonts. Every PNG is drawn into a temporary file and renamed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::DrawingErrorKind;
use plotters_bitmap::BitMapBackendError;

use crate::error::{Result, XtaskError};
use crate::paths::{commit_temp, temp_path};

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (960, 640);
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

static FONT_ONCE: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once).
fn register_font() {
    FONT_ONCE.call_once(|| {
        static TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
        // The font is a known-good TTF compiled in; a failure would show as a
        // drawing error naming the missing font, which `draw` reports.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, TTF);
    });
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A polyline through the points, in order.
    Line,
    /// A dot at each point.
    Points,
    /// Both.
    LineAndPoints,
}

/// One named set of (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// The points (non-finite ones are skipped).
    pub points: Vec<(f64, f64)>,
    /// How they are drawn.
    pub mark: Mark,
}

impl Series {
    /// A series of points drawn as `mark`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, mark: Mark) -> Self {
        Series { label: label.into(), points, mark }
    }

    /// `y[i]` against `i + 1` (per-epoch curves start at epoch 1).
    pub fn per_epoch(label: impl Into<String>, ys: &[f64]) -> Self {
        let marks = if ys.len() <= 60 { Mark::LineAndPoints } else { Mark::Line };
        Series::new(label, ys.iter().enumerate().map(|(i, &y)| ((i + 1) as f64, y)).collect(), marks)
    }
}

/// A rectangle of a band: y from `lo` to `hi` over x from `x0` to `x1`
/// (drawn a little wider, so that a single epoch, x0 = x1, shows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// First x covered.
    pub x0: f64,
    /// Last x covered.
    pub x1: f64,
    /// Bottom of the band.
    pub lo: f64,
    /// Top of the band.
    pub hi: f64,
}

impl Span {
    /// The band `lo`–`hi` at one x (e.g. one epoch).
    pub fn at(x: f64, lo: f64, hi: f64) -> Self {
        Span { x0: x, x1: x, lo, hi }
    }

    /// The band `lo`–`hi` over `x0`–`x1` (e.g. a range of epochs).
    pub fn over(x0: f64, x1: f64, lo: f64, hi: f64) -> Self {
        Span { x0, x1, lo, hi }
    }
}

/// A reference drawn beside the data, with its own legend entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    /// Shaded spans (the band of the tutorial's own code, a goal), in the
    /// colour of series `like` (grey for `None`).
    Band {
        /// Legend text.
        label: String,
        /// The rectangles.
        spans: Vec<Span>,
        /// Index of the series whose colour the band takes.
        like: Option<usize>,
    },
    /// Black crosses (the tutorial's printed figures), each with its text written beside it.
    Marks {
        /// Legend text.
        label: String,
        /// (x, y, the figure as printed).
        points: Vec<(f64, f64, String)>,
    },
}

/// A line / scatter chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Caption.
    pub title: String,
    /// x-axis description.
    pub x_label: String,
    /// y-axis description.
    pub y_label: String,
    /// The data.
    pub series: Vec<Series>,
    /// Plot log₁₀ y (non-positive values are skipped); labels show y itself.
    pub log_y: bool,
    /// Draw the diagonal y = x (for predicted vs actual).
    pub diagonal: bool,
    /// Names for x = 0, 1, 2, … (a categorical x axis).
    pub x_categories: Option<Vec<String>>,
    /// References drawn beside the data.
    pub overlays: Vec<Overlay>,
}

impl Chart {
    /// A chart with a title and axis descriptions and no data yet.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            log_y: false,
            diagonal: false,
            x_categories: None,
            overlays: Vec::new(),
        }
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a band (see [`Overlay::Band`]) in the colour of series `like`.
    pub fn band(mut self, label: impl Into<String>, like: Option<usize>, spans: Vec<Span>) -> Self {
        self.overlays.push(Overlay::Band { label: label.into(), spans, like });
        self
    }

    /// Adds marks at figures printed elsewhere (see [`Overlay::Marks`]).
    pub fn marks(mut self, label: impl Into<String>, points: Vec<(f64, f64, String)>) -> Self {
        self.overlays.push(Overlay::Marks { label: label.into(), points });
        self
    }

    /// Uses a logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Draws y = x.
    pub fn diagonal(mut self) -> Self {
        self.diagonal = true;
        self
    }

    /// Names the integer x positions.
    pub fn x_categories(mut self, names: Vec<String>) -> Self {
        self.x_categories = Some(names);
        self
    }

    /// y as drawn: log₁₀ y on a log axis (`None` for y ≤ 0 there), `None` if not finite.
    fn y_drawn(&self, y: f64) -> Option<f64> {
        let v = if self.log_y {
            if y > 0.0 {
                y.log10()
            } else {
                return None;
            }
        } else {
            y
        };
        v.is_finite().then_some(v)
    }

    /// Every (x, y) the overlays need in view, as drawn.
    fn overlay_extent(&self) -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        for o in &self.overlays {
            match o {
                Overlay::Band { spans, .. } => {
                    for s in spans {
                        for (x, y) in [(s.x0, s.lo), (s.x1, s.hi)] {
                            if let Some(y) = self.y_drawn(y).filter(|_| x.is_finite()) {
                                pts.push((x, y));
                            }
                        }
                    }
                }
                Overlay::Marks { points, .. } => {
                    pts.extend(points.iter().filter_map(|&(x, y, _)| Some((x, self.y_drawn(y)?))))
                }
            }
        }
        pts
    }

    /// The points as drawn: log₁₀ applied, non-finite dropped.
    fn drawn(&self) -> Vec<Vec<(f64, f64)>> {
        self.series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter(|(_, y)| !self.log_y || *y > 0.0)
                    .map(|&(x, y)| (x, if self.log_y { y.log10() } else { y }))
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect()
            })
            .collect()
    }
}

/// A plotters error as one sentence: its `BitMapBackendError` prints as a
/// Debug dump (`IOError(Os { code: 13, .. })`), so the I/O or image error
/// inside is shown instead.
fn plot_error(path: &Path, e: DrawingAreaErrorKind<BitMapBackendError>) -> XtaskError {
    let message = match e {
        DrawingAreaErrorKind::BackendError(DrawingErrorKind::DrawingError(b)) => match b {
            BitMapBackendError::IOError(io) => io.to_string(),
            BitMapBackendError::ImageError(image) => image.to_string(),
            BitMapBackendError::InvalidBuffer => "invalid pixel buffer".to_string(),
            #[allow(unreachable_patterns)]
            _ => "the bitmap back end failed".to_string(),
        },
        DrawingAreaErrorKind::BackendError(DrawingErrorKind::FontError(f)) => format!("font error: {f}"),
        other => other.to_string(),
    };
    XtaskError::Plot { path: path.to_path_buf(), message }
}

/// Smallest and largest of `values`, widened by 5 % (and to a unit range if flat).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * lo.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// A number for an axis label: few digits, scientific when tiny or huge.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Draws on a PNG at a temporary name, then renames it to `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let tmp = temp_path(path);
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
        let drawn = draw(&root).and_then(|()| root.present().map_err(|e| plot_error(path, e)));
        if let Err(e) = drawn {
            drop(root);
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    commit_temp(&tmp, path)
}

/// Round y ticks between `lo` and `hi`: multiples of 1, 2 or 5 × 10ᵏ on a
/// linear axis; on a log axis (`lo`, `hi` are log₁₀ values, and so are the
/// ticks returned) the values 1, 2, 5 × 10ᵏ (only 10ᵏ over many decades,
/// 1…9 × 10ᵏ within less than one).
fn y_ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Vec::new();
    }
    if log {
        let in_range = |mantissas: &[f64]| -> Vec<f64> {
            let (k0, k1) = (lo.floor() as i32 - 1, hi.ceil() as i32 + 1);
            (k0..=k1)
                .flat_map(|k| mantissas.iter().map(move |m| (m * 10f64.powi(k)).log10()))
                .filter(|v| *v >= lo && *v <= hi)
                .collect()
        };
        let ticks = in_range(&[1.0, 2.0, 5.0]);
        return if ticks.len() > 12 {
            in_range(&[1.0])
        } else if ticks.len() < 3 {
            in_range(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else {
            ticks
        };
    }
    let raw = (hi - lo) / 7.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// `text` broken at spaces into lines no wider than `max_width` pixels in
/// `size`-point type (a single word wider than that stays on its own line).
fn wrap(text: &str, size: u32, max_width: u32) -> Vec<String> {
    register_font();
    let font = (FONT, size).into_font();
    let width = |s: &str| font.box_size(s).map_or(s.chars().count() as u32 * size / 2, |(w, _)| w);
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if width(&format!("{line} {word}")) <= max_width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

const TITLE_SIZE: u32 = 24;

/// Writes `title` centred at the top of `root`, wrapped to its width, and
/// returns the area below it.
fn titled<'a>(
    path: &Path,
    root: &DrawingArea<BitMapBackend<'a>, Shift>,
    title: &str,
) -> Result<DrawingArea<BitMapBackend<'a>, Shift>> {
    let (w, _) = root.dim_in_pixel();
    let lines = wrap(title, TITLE_SIZE, w.saturating_sub(40));
    let line_height = TITLE_SIZE as i32 * 5 / 4;
    let style = TextStyle::from((FONT, TITLE_SIZE).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, line) in lines.iter().enumerate() {
        root.draw(&Text::new(line.clone(), (w as i32 / 2, 10 + i as i32 * line_height), style.clone()))
            .map_err(|e| plot_error(path, e))?;
    }
    Ok(root.split_vertically(16 + lines.len() as i32 * line_height).1)
}

/// The legend's places, in the order they are preferred: corners, then the
/// middles of the sides, then the centre.
const CORNERS: [SeriesLabelPosition; 9] = [
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
    SeriesLabelPosition::MiddleRight,
    SeriesLabelPosition::MiddleLeft,
    SeriesLabelPosition::UpperMiddle,
    SeriesLabelPosition::LowerMiddle,
    SeriesLabelPosition::MiddleMiddle,
];

/// Where the legend goes: the place whose box (`fw` × `fh`, as shares of
/// the plotting area) covers the fewest of `pts` (shares of the plotting
/// area, x to the right and y upwards), and how much to stretch the top of
/// the y axis (as a share of its span) when every place covers some.
fn legend_corner(pts: &[(f64, f64)], fw: f64, fh: f64) -> (SeriesLabelPosition, f64) {
    use SeriesLabelPosition::*;
    // the interval a box of share `f` covers at the low end (0), the middle (1) or the high end (2)
    let interval = |at: u8, f: f64| match at {
        0 => (0.0, f),
        1 => (0.5 - f / 2.0, 0.5 + f / 2.0),
        _ => (1.0 - f, 1.0),
    };
    let covered = |place: &SeriesLabelPosition| {
        let (h, v) = match place {
            UpperLeft => (0, 2),
            UpperMiddle => (1, 2),
            UpperRight => (2, 2),
            MiddleLeft => (0, 1),
            MiddleMiddle => (1, 1),
            MiddleRight => (2, 1),
            LowerLeft => (0, 0),
            LowerMiddle => (1, 0),
            _ => (2, 0),
        };
        let ((xa, xb), (ya, yb)) = (interval(h, fw), interval(v, fh));
        pts.iter().filter(|&&(x, y)| x >= xa && x <= xb && y >= ya && y <= yb).count()
    };
    let counts: Vec<usize> = CORNERS.iter().map(covered).collect();
    let best = (0..CORNERS.len()).min_by_key(|&i| counts[i]).unwrap_or(0);
    if counts[best] == 0 {
        return (CORNERS[best].clone(), 0.0);
    }
    // Stretch so that the highest point sits under the legend at the upper right.
    let top = pts.iter().map(|p| p.1).fold(0.0, f64::max).clamp(0.0, 1.0);
    let stretch = if fh < 0.9 { (top / (1.0 - fh) - 1.0).max(0.0) } else { 0.0 };
    (UpperRight, stretch)
}

/// The points of `lines` with every segment sampled, so that a line crossing
/// a corner counts there even between its points.
fn sampled(lines: &[Vec<(f64, f64)>], joined: &[bool]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (pts, &join) in lines.iter().zip(joined) {
        out.extend(pts.iter().copied());
        if join {
            for w in pts.windows(2) {
                out.extend((1..16).map(|k| {
                    let t = f64::from(k) / 16.0;
                    (w[0].0 + t * (w[1].0 - w[0].0), w[0].1 + t * (w[1].1 - w[0].1))
                }));
            }
        }
    }
    out
}

const LEGEND_SIZE: u32 = 15;

/// A linear f64 axis whose grid lines and labels sit at given ticks
/// (plotters' own `WithKeyPoints` cannot take a label formatter for f64).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// Draws `chart` as a PNG at `path`.
pub fn draw_chart(path: &Path, chart: &Chart) -> Result<()> {
    let data = chart.drawn();
    let extent = chart.overlay_extent();
    let (mut x0, mut x1) = padded_range(data.iter().flatten().chain(&extent).map(|p| p.0));
    let (mut y0, mut y1) = padded_range(data.iter().flatten().chain(&extent).map(|p| p.1));
    if chart.diagonal {
        (x0, x1) = (x0.min(y0), x1.max(y1));
        (y0, y1) = (x0, x1);
    }
    if let Some(cats) = &chart.x_categories {
        (x0, x1) = (-0.5, cats.len() as f64 - 0.5);
    }
    // A band at one x is drawn this wide on each side.
    let half_width = 0.02 * (x1 - x0);

    // The legend: its entries, its size, and the corner where it hides least.
    let labels: Vec<&str> = chart
        .series
        .iter()
        .map(|s| s.label.as_str())
        .chain(chart.overlays.iter().map(|o| match o {
            Overlay::Band { label, .. } | Overlay::Marks { label, .. } => label.as_str(),
        }))
        .chain(chart.diagonal.then_some("y = x"))
        .collect();
    let legend = labels.len() > 1;
    register_font();
    let font = (FONT, LEGEND_SIZE).into_font();
    let text_w = labels.iter().map(|l| font.box_size(l).map_or(0, |(w, _)| w)).max().unwrap_or(0);
    let title_lines = wrap(&chart.title, TITLE_SIZE, SIZE.0 - 40).len() as u32;
    let (plot_w, plot_h) = (SIZE.0 - 80 - 36, SIZE.1 - 55 - 36 - 16 - title_lines * TITLE_SIZE * 5 / 4);
    let fw = f64::from(text_w + 30 + 20 + 10) / f64::from(plot_w);
    let fh = f64::from(labels.len() as u32 * (LEGEND_SIZE + 4) + 20 + 10) / f64::from(plot_h);
    let mut shares: Vec<(f64, f64)> = sampled(
        &data,
        &chart.series.iter().map(|s| matches!(s.mark, Mark::Line | Mark::LineAndPoints)).collect::<Vec<_>>(),
    );
    // the bands' areas, sampled on a grid
    for o in &chart.overlays {
        if let Overlay::Band { spans, .. } = o {
            for sp in spans {
                let (Some(lo), Some(hi)) = (chart.y_drawn(sp.lo), chart.y_drawn(sp.hi)) else { continue };
                for x in [sp.x0 - half_width, (sp.x0 + sp.x1) / 2.0, sp.x1 + half_width] {
                    shares.extend((0..=8).map(|k| (x, lo + (hi - lo) * f64::from(k) / 8.0)));
                }
            }
        }
    }
    for o in &chart.overlays {
        if let Overlay::Marks { points, .. } = o {
            // the text written beside each mark
            for &(x, y, _) in points {
                if let Some(y) = chart.y_drawn(y) {
                    shares.extend([(x, y), (x - 2.0 * half_width, y), (x - 4.0 * half_width, y)]);
                }
            }
        }
    }
    let shares: Vec<(f64, f64)> = shares.iter().map(|&(x, y)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0))).collect();
    let (corner, stretch) = if legend { legend_corner(&shares, fw, fh) } else { (CORNERS[0].clone(), 0.0) };
    y1 += stretch * (y1 - y0);
    let ticks = y_ticks(y0, y1, chart.log_y);

    let err = |e| plot_error(path, e);
    render(path, SIZE, |root| {
        let area = titled(path, root, &chart.title)?;
        let mut ctx = ChartBuilder::on(&area)
            .margin(18)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, Ticked { inner: (y0..y1).into(), ticks: ticks.clone() })
            .map_err(err)?;
        let y_fmt = |v: &f64| tick(if chart.log_y { 10f64.powf(*v) } else { *v });
        let cat_fmt = |v: &f64| {
            let cats = chart.x_categories.as_deref().unwrap_or(&[]);
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                cats.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        // a few whole-number x positions (epochs of a short run): label those only, not 1.5, 2.5, …
        let whole = |v: f64| (v - v.round()).abs() < 1e-9;
        let few_whole = chart.x_categories.is_none()
            && whole(x0.max(0.0).ceil())
            && x1 - x0 <= 12.0
            && chart.series.iter().flat_map(|s| &s.points).all(|&(x, _)| whole(x));
        let x_fmt = |v: &f64| match () {
            _ if chart.x_categories.is_some() => cat_fmt(v),
            _ if few_whole && !whole(*v) => String::new(),
            _ => tick(*v),
        };
        let mut mesh = ctx.configure_mesh();
        mesh.x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .bold_line_style(RGBColor(222, 222, 222))
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt);
        if let Some(cats) = &chart.x_categories {
            mesh.x_labels(cats.len() * 2 + 1);
        } else if few_whole {
            mesh.x_labels(((x1 - x0) * 2.0).ceil() as usize + 1);
        }
        mesh.draw().map_err(err)?;
        for o in &chart.overlays {
            if let Overlay::Band { label, spans, like } = o {
                let color = like.map_or(RGBColor(110, 110, 110), |i| COLORS[i % COLORS.len()]);
                let rects: Vec<[(f64, f64); 2]> = spans
                    .iter()
                    .filter_map(|s| {
                        Some([(s.x0 - half_width, chart.y_drawn(s.lo)?), (s.x1 + half_width, chart.y_drawn(s.hi)?)])
                    })
                    .collect();
                ctx.draw_series(rects.iter().map(|r| Rectangle::new(*r, color.mix(0.22).filled())))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 22, y + 6)], color.mix(0.3).filled()));
                ctx.draw_series(rects.iter().map(|r| Rectangle::new(*r, color.mix(0.6).stroke_width(1))))
                    .map_err(err)?;
            }
        }
        if chart.diagonal {
            ctx.draw_series(LineSeries::new([(x0, x0), (x1, x1)], BLACK.mix(0.5).stroke_width(1)))
                .map_err(err)?
                .label("y = x")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 22, y)], BLACK.mix(0.5)));
        }
        for (i, (s, pts)) in chart.series.iter().zip(&data).enumerate() {
            let color = COLORS[i % COLORS.len()];
            let line = matches!(s.mark, Mark::Line | Mark::LineAndPoints);
            let dots = matches!(s.mark, Mark::Points | Mark::LineAndPoints);
            let radius = if pts.len() > 500 { 2 } else { 3 };
            if line {
                ctx.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(err)?
                    .label(&s.label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 22, y)], color.stroke_width(2)));
            }
            if dots {
                let style = if line { color.filled() } else { color.mix(0.6).filled() };
                let anno = ctx.draw_series(pts.iter().map(|&p| Circle::new(p, radius, style))).map_err(err)?;
                if !line {
                    anno.label(&s.label).legend(move |(x, y)| Circle::new((x + 11, y), 4, color.filled()));
                }
            }
        }
        for o in &chart.overlays {
            if let Overlay::Marks { label, points } = o {
                let pts: Vec<(f64, f64, &str)> =
                    points.iter().filter_map(|(x, y, t)| Some((*x, chart.y_drawn(*y)?, t.as_str()))).collect();
                ctx.draw_series(pts.iter().map(|&(x, y, _)| Cross::new((x, y), 7, BLACK.stroke_width(3))))
                    .map_err(err)?
                    .label(label)
                    .legend(|(x, y)| Cross::new((x + 11, y), 6, BLACK.stroke_width(3)));
                // the figure, left of a mark in the right half, right of it otherwise
                for &(x, y, text) in &pts {
                    let right_half = x > (x0 + x1) / 2.0;
                    let (h, dx) = if right_half { (HPos::Right, -14) } else { (HPos::Left, 14) };
                    let style = TextStyle::from((FONT, 15).into_font()).color(&BLACK).pos(Pos::new(h, VPos::Center));
                    let element = EmptyElement::at((x, y)) + Text::new(text.to_string(), (dx, 0), style);
                    ctx.draw_series(std::iter::once(element)).map_err(err)?;
                }
            }
        }
        if legend {
            ctx.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font((FONT, LEGEND_SIZE))
                .position(corner)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

/// Draws a confusion matrix (rows: actual class, columns: predicted) as a
/// heat map: each cell's shade is its share of the row (the recall), and
/// the count is written in it.
pub fn draw_confusion(path: &Path, title: &str, counts: &[Vec<usize>]) -> Result<()> {
    let n = counts.len();
    if n == 0 || counts.iter().any(|r| r.len() != n) {
        let message = format!("confusion matrix must be square and non-empty, got {n} rows");
        return Err(XtaskError::Plot { path: path.to_path_buf(), message });
    }
    let err = |e| plot_error(path, e);
    render(path, (760, 800), |root| {
        let area = titled(path, root, title)?;
        let (w, h) = area.dim_in_pixel();
        let (left, top, bottom) = (90i32, 40i32, 70i32);
        let side = ((w as i32 - left - 30).min(h as i32 - top - bottom) / n as i32).max(1);
        let label = |s: &str, at: (i32, i32), size: i32, color: &RGBColor| {
            let style =
                TextStyle::from((FONT, size).into_font()).color(color).pos(Pos::new(HPos::Center, VPos::Center));
            area.draw(&Text::new(s.to_string(), at, style)).map_err(err)
        };
        for (i, row) in counts.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            for (j, &c) in row.iter().enumerate() {
                let share = c as f64 / total;
                let shade = |full: u8| (255.0 - share * (255.0 - full as f64)).round() as u8;
                let fill = RGBColor(shade(8), shade(48), shade(107));
                let (x, y) = (left + j as i32 * side, top + i as i32 * side);
                area.draw(&Rectangle::new([(x, y), (x + side, y + side)], fill.filled())).map_err(err)?;
                area.draw(&Rectangle::new([(x, y), (x + side, y + side)], RGBColor(200, 200, 200))).map_err(err)?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                label(&c.to_string(), (x + side / 2, y + side / 2), (side / 3).clamp(9, 18), &ink)?;
            }
            label(&i.to_string(), (left - 15, top + i as i32 * side + side / 2), 16, &BLACK)?;
            label(&i.to_string(), (left + i as i32 * side + side / 2, top + n as i32 * side + 15), 16, &BLACK)?;
        }
        label("predicted class", (left + n as i32 * side / 2, top + n as i32 * side + 45), 18, &BLACK)?;
        let style = TextStyle::from((FONT, 18).into_font().transform(FontTransform::Rotate270))
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        area.draw(&Text::new("actual class", (left - 50, top + n as i32 * side / 2), style)).map_err(err)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_pad_and_survive_flat_or_empty_data() {
        assert_eq!(padded_range([0.0, 10.0].into_iter()), (-0.5, 10.5));
        assert_eq!(padded_range([3.0, 3.0].into_iter()), (2.5, 3.5));
        assert_eq!(padded_range(std::iter::empty()), (0.0, 1.0));
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(1e-4), "1e-4");
        assert_eq!(tick(150.0), "150");
    }

    #[test]
    fn y_ticks_are_round_on_linear_and_log_axes() {
        // the regression loss axis: log10 of 0.0015..1.2
        let ticks: Vec<String> =
            y_ticks(0.0015f64.log10(), 1.2f64.log10(), true).iter().map(|v| tick(10f64.powf(*v))).collect();
        assert_eq!(ticks, ["0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]);
        // many decades: powers of ten only; less than one: 1…9 × 10ᵏ
        assert_eq!(y_ticks(-8.0, 1.0, true).len(), 10);
        let narrow: Vec<String> =
            y_ticks(0.25f64.log10(), 0.45f64.log10(), true).iter().map(|v| tick(10f64.powf(*v))).collect();
        assert_eq!(narrow, ["0.3", "0.4"]);
        let lin: Vec<String> = y_ticks(0.79, 0.93, false).iter().map(|v| tick(*v)).collect();
        assert_eq!(lin, ["0.8", "0.82", "0.84", "0.86", "0.88", "0.9", "0.92"]);
        assert!(y_ticks(1.0, 1.0, false).is_empty() && y_ticks(f64::NAN, 1.0, true).is_empty());
    }

    #[test]
    fn long_titles_wrap_within_the_width() {
        let title = "confusion matrix, sound run (softmax + cross-entropy, Adam), accuracy 0.978";
        let lines = wrap(title, TITLE_SIZE, 720);
        assert!(lines.len() >= 2, "{lines:?}");
        assert_eq!(lines.join(" "), title);
        let font = (FONT, TITLE_SIZE).into_font();
        assert!(lines.iter().all(|l| font.box_size(l).unwrap().0 <= 720), "{lines:?}");
        assert_eq!(wrap("short", TITLE_SIZE, 720), ["short"]);
    }

    #[test]
    fn the_legend_avoids_the_data_or_makes_room_above_it() {
        // data along the top right: the legend goes to the upper left
        let pts: Vec<(f64, f64)> = (0..50).map(|i| (0.5 + f64::from(i) / 100.0, 0.95)).collect();
        let (place, stretch) = legend_corner(&pts, 0.3, 0.2);
        assert!(matches!(place, SeriesLabelPosition::UpperLeft), "{place:?}");
        assert_eq!(stretch, 0.0);
        // data everywhere: the axis grows so that the legend sits above the highest point
        let grid: Vec<(f64, f64)> =
            (0..=20).flat_map(|i| (0..=20).map(move |j| (f64::from(i) / 20.0, f64::from(j) / 20.0))).collect();
        let (place, stretch) = legend_corner(&grid, 0.3, 0.2);
        assert!(matches!(place, SeriesLabelPosition::UpperRight));
        assert!((stretch - 0.25).abs() < 1e-12, "{stretch}");
    }

    #[test]
    fn log_charts_skip_non_positive_values() {
        let c = Chart::new("t", "x", "y").with(Series::new("s", vec![(1.0, 0.0), (2.0, 100.0)], Mark::Line)).log_y();
        assert_eq!(c.drawn(), vec![vec![(2.0, 2.0)]]);
    }

    #[test]
    fn a_chart_and_a_heat_map_are_written_as_png() {
        let dir = std::env::temp_dir().join(format!("xtask-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = Chart::new("loss", "epoch", "loss")
            .with(Series::per_epoch("train", &[1.0, 0.5, 0.25]))
            .with(Series::new("pts", vec![(1.0, 0.3), (3.0, 0.9)], Mark::Points))
            .band("band", Some(0), vec![Span::at(2.0, 0.2, 0.6), Span::over(1.0, 3.0, 0.0, 0.1)])
            .marks("printed", vec![(3.0, 0.3, "0.3".into()), (1.0, -1.0, "skipped on a log axis".into())])
            .log_y();
        draw_chart(&dir.join("c.png"), &chart).unwrap();
        draw_confusion(&dir.join("h.png"), "cm", &[vec![5, 1], vec![0, 7]]).unwrap();
        for f in ["c.png", "h.png"] {
            let bytes = std::fs::read(dir.join(f)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        }
        assert!(draw_confusion(&dir.join("bad.png"), "cm", &[vec![1, 2]]).is_err());
        // A back-end error reads as one sentence, not a Debug dump of plotters' error.
        let e = draw_chart(&dir.join("no-such-folder").join("c.png"), &chart).unwrap_err().to_string();
        assert!(e.ends_with("No such file or directory (os error 2)"), "{e}");
        assert!(!e.contains("IOError") && !e.contains("Os {"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "no temporary files left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
