//! PNG plots with plotters' bitmap back end: line and scatter charts (per-epoch
//! curves, predicted vs actual, target and prediction vs x) and a
//! confusion-matrix heat map.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (`assets/`, its
//! licence beside it) and registered with plotters as `sans-serif`, so plots
//! need no system fonts. Every PNG is drawn into a temporary file and renamed.

use std::path::Path;
use std::sync::Once;

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
        }
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
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

/// Draws `chart` as a PNG at `path`.
pub fn draw_chart(path: &Path, chart: &Chart) -> Result<()> {
    let data = chart.drawn();
    let (mut x0, mut x1) = padded_range(data.iter().flatten().map(|p| p.0));
    let (mut y0, mut y1) = padded_range(data.iter().flatten().map(|p| p.1));
    if chart.diagonal {
        (x0, x1) = (x0.min(y0), x1.max(y1));
        (y0, y1) = (x0, x1);
    }
    if let Some(cats) = &chart.x_categories {
        (x0, x1) = (-0.5, cats.len() as f64 - 0.5);
    }
    let err = |e| plot_error(path, e);
    render(path, SIZE, |root| {
        let mut ctx = ChartBuilder::on(root)
            .caption(&chart.title, (FONT, 26))
            .margin(18)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
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
        let x_fmt = |v: &f64| if chart.x_categories.is_some() { cat_fmt(v) } else { tick(*v) };
        let mut mesh = ctx.configure_mesh();
        mesh.x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt);
        if let Some(cats) = &chart.x_categories {
            mesh.x_labels(cats.len() * 2 + 1);
        }
        mesh.draw().map_err(err)?;
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
        if chart.series.len() > 1 || chart.diagonal {
            ctx.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font((FONT, 15))
                .position(SeriesLabelPosition::UpperRight)
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
        let area = root.titled(title, (FONT, 26)).map_err(err)?;
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
