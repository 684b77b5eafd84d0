//! Charts drawn on the server as SVG (no script; colours are SVG attributes, not styles, so the
//! strict CSP holds).

use maud::{html, Markup};

const W: f64 = 640.0;
const H: f64 = 180.0;
const PAD: f64 = 28.0;

/// A line of `(label, value 0..=100)` points, oldest first.
pub fn line(title: &str, points: &[(String, f64)]) -> Markup {
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * v.clamp(0.0, 100.0) / 100.0;
    let path: String = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(i),
                y(*v)
            )
        })
        .collect();
    html! {
        svg class="chart" viewBox={"0 0 " (W) " " (H)} role="img" aria-label=(title) {
            title { (title) }
            @for v in [0.0, 50.0, 100.0] {
                line x1=(PAD) x2=(W - PAD) y1=(y(v)) y2=(y(v)) stroke="#ddd" {}
                text x="2" y=(y(v) + 4.0) font-size="10" fill="#666" { (v) }
            }
            path d=(path) fill="none" stroke="#1f6feb" stroke-width="2" {}
            @for (i, (label, v)) in points.iter().enumerate() {
                circle cx=(x(i)) cy=(y(*v)) r="3" fill="#1f6feb" {
                    title { (label) ": " (format!("{v:.1}")) }
                }
            }
            @if let (Some(f), Some(l)) = (points.first(), points.last()) {
                text x=(PAD) y=(H - 6.0) font-size="10" fill="#666" { (f.0) }
                text x=(W - PAD) y=(H - 6.0) font-size="10" fill="#666" text-anchor="end" { (l.0) }
            }
        }
    }
}

/// Colour of a priority number (0 Emergency .. 7 Debug).
fn colour(p: i64) -> &'static str {
    match p {
        0..=2 => "#b42318",
        3 => "#e8590c",
        4 => "#f59f00",
        5 => "#1f6feb",
        _ => "#868e96",
    }
}

/// Stacked bars: per bucket (label), counts per priority number.
pub fn stacked(title: &str, buckets: &[(String, Vec<(i64, u64)>)]) -> Markup {
    let max = buckets
        .iter()
        .map(|(_, c)| c.iter().map(|(_, n)| *n).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = buckets.len().max(1) as f64;
    let bw = (W - 2.0 * PAD) / n;
    html! {
        svg class="chart" viewBox={"0 0 " (W) " " (H)} role="img" aria-label=(title) {
            title { (title) }
            line x1=(PAD) x2=(W - PAD) y1=(H - PAD) y2=(H - PAD) stroke="#999" {}
            text x="2" y=(PAD) font-size="10" fill="#666" { (max) }
            @for (i, (label, counts)) in buckets.iter().enumerate() {
                @let mut top = H - PAD;
                @for (p, c) in counts {
                    @let h = (H - 2.0 * PAD) * (*c as f64) / max;
                    @let y0 = { top -= h; top };
                    rect x=(PAD + bw * i as f64 + 1.0) y=(y0) width=((bw - 2.0).max(1.0)) height=(h) fill=(colour(*p)) {
                        title { (label) ": " (c) " " (harrier_alerts::store::priority_of(*p).as_str()) }
                    }
                }
            }
            @if let (Some(f), Some(l)) = (buckets.first(), buckets.last()) {
                text x=(PAD) y=(H - 6.0) font-size="10" fill="#666" { (f.0) }
                text x=(W - PAD) y=(H - 6.0) font-size="10" fill="#666" text-anchor="end" { (l.0) }
            }
        }
    }
}
