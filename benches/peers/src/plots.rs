//! Plots: throughput against threads per system (W1-W3), grouped bars (W4, W6); SVG, and
//! PNG when a DejaVu font is installed (bitmaps need a font file; SVG text does not).

use std::collections::BTreeMap;
use std::path::Path;

use folio_bench::Row;
use plotters::prelude::*;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Draws every plot into `out`; returns the files written.
pub fn draw(medians: &[Row], out: &Path) -> Result<Vec<String>> {
    let png = register_font();
    let mut files = Vec::new();
    let mut by_chart: BTreeMap<(String, String, String), Vec<&Row>> = BTreeMap::new();
    for row in medians {
        by_chart
            .entry((row.workload.clone(), row.variant.clone(), row.mode.clone()))
            .or_default()
            .push(row);
    }
    for ((workload, variant, mode), rows) in &by_chart {
        let name = format!("{workload}-{variant}-{mode}")
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let title = format!("{workload} {variant} ({mode}), ops/s");
        let line = matches!(workload.as_str(), "W1" | "W2" | "W3");
        let svg = out.join(format!("{name}.svg"));
        let drawn = if line {
            lines(
                SVGBackend::new(&svg, (800, 480)).into_drawing_area(),
                &title,
                rows,
            )
        } else {
            bars(
                SVGBackend::new(&svg, (800, 480)).into_drawing_area(),
                &title,
                rows,
            )
        };
        drawn?;
        files.push(format!("{name}.svg"));
        if png {
            let file = out.join(format!("{name}.png"));
            let area = BitMapBackend::new(&file, (800, 480)).into_drawing_area();
            if line {
                lines(area, &title, rows)?;
            } else {
                bars(area, &title, rows)?;
            }
            files.push(format!("{name}.png"));
        }
    }
    Ok(files)
}

fn register_font() -> bool {
    match std::fs::read(FONT) {
        Ok(bytes) => plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            Box::leak(bytes.into_boxed_slice()),
        )
        .is_ok(),
        Err(_) => false,
    }
}

fn systems(rows: &[&Row]) -> Vec<String> {
    let mut systems: Vec<String> = rows.iter().map(|r| r.system.clone()).collect();
    systems.sort();
    systems.dedup();
    systems
}

fn lines<B: DrawingBackend>(
    area: DrawingArea<B, plotters::coord::Shift>,
    title: &str,
    rows: &[&Row],
) -> Result<()>
where
    B::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    let max_threads = rows.iter().map(|r| r.threads).max().unwrap_or(1) as f64;
    let max_ops = rows.iter().map(|r| r.ops_per_sec).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d((0.5f64..max_threads * 1.2).log_scale(), 0.0..max_ops)?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("ops/s")
        .draw()?;
    for (index, system) in systems(rows).iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| &r.system == system)
            .map(|r| (r.threads as f64, r.ops_per_sec))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(system.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
    }
    finish(&mut chart, &area)
}

fn bars<B: DrawingBackend>(
    area: DrawingArea<B, plotters::coord::Shift>,
    title: &str,
    rows: &[&Row],
) -> Result<()>
where
    B::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    let systems = systems(rows);
    let mut threads: Vec<usize> = rows.iter().map(|r| r.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    let groups = threads.len();
    let max_ops = rows.iter().map(|r| r.ops_per_sec).fold(1.0, f64::max) * 1.1;
    let width = systems.len() as f64 + 1.0;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..groups as f64 * width, 0.0..max_ops)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("threads")
        .x_label_formatter(&|x| {
            let group = (*x / width) as usize;
            threads.get(group).map_or(String::new(), |t| format!("{t}"))
        })
        .y_desc("ops/s")
        .draw()?;
    for (index, system) in systems.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .filter(|r| &r.system == system)
            .filter_map(|r| {
                let group = threads.iter().position(|t| *t == r.threads)? as f64;
                let x = group * width + index as f64 + 0.5;
                Some(Rectangle::new(
                    [(x, 0.0), (x + 0.9, r.ops_per_sec)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(system.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    finish(&mut chart, &area)
}

/// W5: bars of the reopen time after SIGKILL and after a clean close, per system
/// (`w5-recovery.svg`, and a PNG when a font is installed). Nothing when W5 did not run.
pub fn draw_recovery(rows: &[folio_bench::recovery::RecoveryRow], out: &Path) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let png = register_font();
    let title = format!(
        "W5: reopen until the first read, ms ({} MiB acknowledged)",
        rows[0].data_bytes >> 20
    );
    recovery_bars(
        SVGBackend::new(&out.join("w5-recovery.svg"), (800, 480)).into_drawing_area(),
        &title,
        rows,
    )?;
    if png {
        let file = out.join("w5-recovery.png");
        recovery_bars(
            BitMapBackend::new(&file, (800, 480)).into_drawing_area(),
            &title,
            rows,
        )?;
    }
    Ok(())
}

fn recovery_bars<B: DrawingBackend>(
    area: DrawingArea<B, plotters::coord::Shift>,
    title: &str,
    rows: &[folio_bench::recovery::RecoveryRow],
) -> Result<()>
where
    B::ErrorType: 'static,
{
    area.fill(&WHITE)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let max = rows
        .iter()
        .map(|r| ms(r.recovery).max(ms(r.clean_open)))
        .fold(1.0, f64::max)
        * 1.1;
    let cases = ["after SIGKILL", "after a clean close"];
    let width = rows.len() as f64 + 1.0;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..cases.len() as f64 * width, 0.0..max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("left: after SIGKILL (replays the log)   right: after a clean close")
        .y_desc("ms")
        .draw()?;
    for (index, row) in rows.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = [ms(row.recovery), ms(row.clean_open)]
            .into_iter()
            .enumerate()
            .map(|(case, value)| {
                let x = case as f64 * width + index as f64 + 0.5;
                Rectangle::new([(x, 0.0), (x + 0.9, value)], color.filled())
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(row.system.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    finish(&mut chart, &area)
}

/// Draws the legend box, then writes the file.
fn finish<'a, B: DrawingBackend + 'a, C: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, B, C>,
    area: &DrawingArea<B, plotters::coord::Shift>,
) -> Result<()>
where
    B::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    area.present()?;
    Ok(())
}
