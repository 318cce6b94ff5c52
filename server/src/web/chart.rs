//! Small charts drawn on the server as SVG, for the dashboard: this module computes each
//! bar's geometry (whole pixels in the chart's own coordinates), and the page template writes
//! the `<svg>` elements from it, so every label goes through askama's escaping and no markup is
//! built from strings. Every bar carries its value as text beside it, so the chart reads in
//! print, without colour and to a screen reader (the template adds `<title>` and `<desc>`).

/// Characters of a label shown under a column (the full label is the column's tooltip).
const LABEL_CHARS: usize = 30;
/// Characters of a label shown above a horizontal bar.
const ROW_LABEL_CHARS: usize = 56;

/// One column of a [`Columns`] chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The label under the column.
    pub label: String,
    /// The value as written above the column.
    pub value: String,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height (0 for a zero value).
    pub height: u32,
    /// Horizontal centre, where the texts are anchored.
    pub centre: u32,
    /// Baseline of the value text.
    pub value_y: u32,
}

/// A column chart: one column per item, heights proportional to the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Width of the drawing.
    pub width: u32,
    /// Height of the drawing.
    pub height: u32,
    /// The y of the axis the columns stand on.
    pub baseline: u32,
    /// Baseline of the labels.
    pub label_y: u32,
    /// The columns, in the order given.
    pub bars: Vec<Column>,
}

/// Columns for `items` (label, value, value as written).
pub fn columns(items: &[(String, u64, String)]) -> Columns {
    const STEP: u32 = 76;
    const BAR: u32 = 44;
    const TOP: u32 = 22;
    const PLOT: u32 = 120;
    let max = items.iter().map(|(_, v, _)| *v).max().unwrap_or(0).max(1);
    let baseline = TOP + PLOT;
    let bars = items
        .iter()
        .zip(0u32..)
        .map(|((label, value, text), i)| {
            let height = scale(*value, max, PLOT);
            let x = 8 + i * STEP + (STEP - BAR) / 2;
            let y = baseline - height;
            Column {
                label: short(label),
                value: text.clone(),
                x,
                y,
                width: BAR,
                height,
                centre: x + BAR / 2,
                value_y: y.saturating_sub(5).max(12),
            }
        })
        .collect::<Vec<_>>();
    let count = u32::try_from(bars.len()).unwrap_or(u32::MAX);
    Columns {
        width: 16 + count.max(1) * STEP,
        height: baseline + 26,
        baseline,
        label_y: baseline + 18,
        bars,
    }
}

/// How a horizontal bar reads: good, middling or bad (the bar's colour class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Good.
    Ok,
    /// Middling.
    Warn,
    /// Bad.
    Bad,
}

impl Tone {
    /// The CSS class of the bar.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }
}

/// One row of a [`Rows`] chart: the label above its bar, the value right of the bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The label (shortened).
    pub label: String,
    /// The full label (the row's tooltip).
    pub title: String,
    /// The value as written right of the bar.
    pub value: String,
    /// Baseline of the label.
    pub label_y: u32,
    /// Top edge of the bar.
    pub bar_y: u32,
    /// Baseline of the value.
    pub value_y: u32,
    /// Length of the bar.
    pub width: u32,
    /// Where the value text starts.
    pub value_x: u32,
    /// Colour class: `ok`, `warn` or `bad`.
    pub tone: &'static str,
}

/// A horizontal bar chart: one row per item, lengths proportional to a share of 0 to 1. Labels
/// sit above their bars, so the drawing stays narrow enough to read on a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// Width of the drawing.
    pub width: u32,
    /// Height of the drawing.
    pub height: u32,
    /// The length of a full (100 %) bar.
    pub bar_max: u32,
    /// The height of a bar.
    pub bar_height: u32,
    /// The rows, in the order given.
    pub rows: Vec<Row>,
}

/// Rows for `items` (label, share from 0 to 1, value as written, tone).
pub fn rows(items: &[(String, f64, String, Tone)]) -> Rows {
    const BAR_MAX: u32 = 300;
    const STEP: u32 = 38;
    const BAR: u32 = 14;
    let rows = items
        .iter()
        .zip(0u32..)
        .map(|((label, share, text, tone), i)| {
            let top = 4 + i * STEP;
            let share = if share.is_finite() {
                share.clamp(0.0, 1.0)
            } else {
                0.0
            };
            // Whole pixels: the share of the full bar, rounded.
            let width = (share * f64::from(BAR_MAX)).round() as u32;
            Row {
                label: cut(label, ROW_LABEL_CHARS),
                title: label.clone(),
                value: text.clone(),
                label_y: top + 12,
                bar_y: top + 17,
                value_y: top + 17 + BAR - 3,
                width,
                value_x: width + 6,
                tone: tone.class(),
            }
        })
        .collect::<Vec<_>>();
    let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    Rows {
        width: BAR_MAX + 110,
        height: 6 + count.max(1) * STEP,
        bar_max: BAR_MAX,
        bar_height: BAR,
        rows,
    }
}

/// `value` of `max` as a length of at most `full` pixels (a non-zero value gets at least 1).
fn scale(value: u64, max: u64, full: u32) -> u32 {
    if value == 0 || max == 0 {
        return 0;
    }
    let len = (value.min(max) as f64 / max as f64 * f64::from(full)).round() as u32;
    len.max(1)
}

/// A column's label cut to [`LABEL_CHARS`] characters.
fn short(label: &str) -> String {
    cut(label, LABEL_CHARS)
}

/// `label` cut to `chars` characters, with an ellipsis when cut.
fn cut(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        return label.to_string();
    }
    let mut out: String = label.chars().take(chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_proportional_and_stand_on_the_baseline() {
        let items: Vec<(String, u64, String)> =
            [("Cấp độ 1", 10), ("Cấp độ 2", 40), ("Cấp độ 3", 0)]
                .iter()
                .map(|(l, v)| (l.to_string(), *v, v.to_string()))
                .collect();
        let c = columns(&items);
        let [a, b, z] = &c.bars[..] else {
            panic!("three columns")
        };
        assert_eq!(b.height, 120, "the largest fills the plot");
        assert_eq!(a.height, 30);
        assert_eq!(z.height, 0);
        for bar in &c.bars {
            assert_eq!(bar.y + bar.height, c.baseline);
            assert!(bar.x + bar.width <= c.width);
            assert!(bar.value_y < bar.y.max(13));
        }
        assert!(a.x < b.x && b.x < z.x);
        assert_eq!(a.label, "Cấp độ 1");
        assert_eq!(b.value, "40");
        // Nothing at all: no division by zero, an empty drawing of some size.
        let empty = columns(&[]);
        assert!(empty.bars.is_empty() && empty.width > 0);
        assert_eq!(columns(&[("x".into(), 0, "0".into())]).bars[0].height, 0);
        // A tiny value still shows.
        assert_eq!(scale(1, 1_000_000, 120), 1);
    }

    #[test]
    fn rows_are_shares_of_a_full_bar() {
        let long =
            "Ủy ban nhân dân huyện Ninh Giang, tỉnh Hải Dương, Ban Quản lý dự án".to_string();
        let r = rows(&[
            (long.clone(), 0.25, "25% (1/4)".into(), Tone::Bad),
            ("Sở Tư pháp".into(), 1.0, "100%".into(), Tone::Ok),
            ("Sở lạ".into(), f64::NAN, "—".into(), Tone::Warn),
            ("Quá".into(), 7.0, "?".into(), Tone::Ok),
        ]);
        assert_eq!(r.rows[0].width, 75);
        assert_eq!(r.rows[1].width, r.bar_max);
        assert_eq!(r.rows[2].width, 0);
        assert_eq!(r.rows[3].width, r.bar_max, "clamped");
        assert_eq!(r.rows[0].tone, "bad");
        assert_eq!(r.rows[0].title, long);
        assert_eq!(r.rows[0].label.chars().count(), ROW_LABEL_CHARS);
        assert!(r.rows[0].label.ends_with('…'));
        assert_eq!(r.rows[1].label, "Sở Tư pháp");
        for (a, b) in r.rows.iter().zip(&r.rows[1..]) {
            assert!(a.label_y < a.bar_y && a.bar_y + r.bar_height <= b.label_y - 10);
        }
        assert_eq!(r.rows[0].value_x, 75 + 6);
        assert!(r.rows.iter().all(|row| row.value_x + 100 <= r.width));
        assert!(r.height >= r.rows[3].bar_y + r.bar_height);
    }
}
