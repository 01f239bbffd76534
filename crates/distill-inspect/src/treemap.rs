//! The squarified treemap layout (Bruls, Huizing and van Wijk, "Squarified Treemaps",
//! 2000): rectangles whose areas are proportional to their values, kept near square so
//! that small ones stay visible and comparable.

/// A rectangle, in the units of the area laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    /// The rectangle shrunk by `by` on every side (never below nothing).
    pub fn inset(self, by: f64) -> Rect {
        let bx = by.min(self.w / 2.0);
        let byy = by.min(self.h / 2.0);
        Rect {
            x: self.x + bx,
            y: self.y + byy,
            w: self.w - 2.0 * bx,
            h: self.h - 2.0 * byy,
        }
    }
}

/// The worst aspect ratio of a row of areas laid along a side of length `side`.
fn worst(row: &[f64], side: f64) -> f64 {
    let sum: f64 = row.iter().sum();
    let (max, min) = row
        .iter()
        .fold((f64::MIN, f64::MAX), |(a, b), &v| (a.max(v), b.min(v)));
    let s2 = side * side;
    let sum2 = sum * sum;
    (s2 * max / sum2).max(sum2 / (s2 * min))
}

/// One rectangle per value, in `values`' order, filling `area`; `values` should be sorted
/// largest first for the best shapes. Zero and negative values get empty rectangles.
pub fn squarify(values: &[f64], area: Rect) -> Vec<Rect> {
    let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
    let mut out = vec![
        Rect {
            x: area.x,
            y: area.y,
            w: 0.0,
            h: 0.0
        };
        values.len()
    ];
    if total <= 0.0 || area.w <= 0.0 || area.h <= 0.0 {
        return out;
    }
    let scale = area.w * area.h / total;
    let items: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.0)
        .map(|(i, v)| (i, v * scale))
        .collect();
    let mut free = area;
    let mut i = 0;
    while i < items.len() {
        let side = free.w.min(free.h);
        let mut j = i + 1;
        let mut row: Vec<f64> = vec![items[i].1];
        while j < items.len() {
            let mut next = row.clone();
            next.push(items[j].1);
            if worst(&next, side) > worst(&row, side) {
                break;
            }
            row = next;
            j += 1;
        }
        let sum: f64 = row.iter().sum();
        let thick = sum / side;
        let mut at = 0.0;
        for (k, a) in row.iter().enumerate() {
            let len = a / thick;
            out[items[i + k].0] = if free.w >= free.h {
                Rect {
                    x: free.x,
                    y: free.y + at,
                    w: thick,
                    h: len,
                }
            } else {
                Rect {
                    x: free.x + at,
                    y: free.y,
                    w: len,
                    h: thick,
                }
            };
            at += len;
        }
        if free.w >= free.h {
            free.x += thick;
            free.w -= thick;
        } else {
            free.y += thick;
            free.h -= thick;
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_proportional_and_fill_the_space() {
        let area = Rect {
            x: 0.0,
            y: 0.0,
            w: 600.0,
            h: 400.0,
        };
        let values = [6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0, 0.0];
        let rects = squarify(&values, area);
        let total: f64 = values.iter().sum();
        for (v, r) in values.iter().zip(&rects) {
            let want = v / total * 600.0 * 400.0;
            assert!((r.w * r.h - want).abs() < 1e-6, "{v}: {r:?}");
            assert!(r.x >= -1e-9 && r.y >= -1e-9);
            assert!(r.x + r.w <= 600.0 + 1e-6 && r.y + r.h <= 400.0 + 1e-6);
        }
        // The paper's example: no rectangle worse than 3:1.
        for r in rects.iter().filter(|r| r.w > 0.0) {
            assert!(r.w.max(r.h) / r.w.min(r.h) < 3.0, "{r:?}");
        }
        assert!(squarify(&[0.0], area)[0].w == 0.0);
    }
}
