//! A run's timeline: its phases as offsets and durations, as a text Gantt chart (for
//! plain-text messages), a Mermaid Gantt chart (for Markdown release notes) and an
//! SVG picture (for the artifacts). The phases charted are [`PHASES`] (a production
//! run's: [`PRODUCTION_PHASES`]), in flow order, each from its first entry to its last
//! exit.

use crate::flow::{PhaseTime, PHASES, PRODUCTION_PHASES};
use crate::records::Phase;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// The charted phases as offsets and durations in seconds.
pub fn phase_times(phases: &[Phase], now: DateTime<Utc>) -> Vec<PhaseTime> {
    let rows = charted(phases, now);
    let Some(start) = rows.iter().map(|r| r.1).min() else {
        return vec![];
    };
    rows.into_iter()
        .map(|(name, from, to)| PhaseTime {
            phase: name.to_string(),
            offset_seconds: (from - start).num_milliseconds() as f64 / 1000.0,
            seconds: (to - from).num_milliseconds() as f64 / 1000.0,
        })
        .collect()
}

/// A text Gantt chart of `times` (for plain-text messages): one row per phase, its
/// bar placed and sized on a 40-column scale of the whole run.
pub fn text_gantt(times: &[PhaseTime]) -> String {
    let total = times
        .iter()
        .map(|t| t.offset_seconds + t.seconds)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let col = |s: f64| ((s / total) * 40.0).round() as usize;
    let mut out = String::new();
    for t in times {
        let start = col(t.offset_seconds).min(39);
        let len = col(t.seconds).max(1).min(40 - start);
        let _ = writeln!(
            out,
            "  {:<24} {}{}{} {:.1} s",
            t.phase,
            " ".repeat(start),
            "█".repeat(len),
            " ".repeat(40 - start - len),
            t.seconds
        );
    }
    out
}

/// A Mermaid Gantt chart of the run's phases ([`PHASES`], first entry of
/// each); a phase still running (this one) ends at `now`. `None` without phases.
pub fn gantt(title: &str, phases: &[Phase], now: DateTime<Utc>) -> Option<String> {
    let mut rows = Vec::new();
    for (name, from, to) in charted(phases, now) {
        let start = from.timestamp_millis();
        let end = to.timestamp_millis().max(start + 1);
        let running = phases.iter().any(|p| p.state == name && p.exited.is_none());
        let status = if running { "active" } else { "done" };
        rows.push(format!(
            "    {name} :{status}, p{}, {start}, {end}\n",
            rows.len()
        ));
    }
    if rows.is_empty() {
        return None;
    }
    Some(format!(
        "```mermaid\ngantt\n    title {title}\n    dateFormat x\n    axisFormat %H:%M:%S\n    section Run\n{}```\n",
        rows.concat()
    ))
}

/// The phases that [`gantt`] charts, with their end (`now` for one still running).
/// The phases of the flow a run's phases come from: production's when it verified a
/// staged release (its first state after Preflight, a state staging does not have,
/// even nested: staging's Create Change Set is inside its checks), else staging's.
fn flow_of(phases: &[Phase]) -> &'static [&'static str] {
    if phases.iter().any(|p| p.state == "Verify Staged Release") {
        PRODUCTION_PHASES
    } else {
        PHASES
    }
}

fn charted(
    phases: &[Phase],
    now: DateTime<Utc>,
) -> Vec<(&'static str, DateTime<Utc>, DateTime<Utc>)> {
    flow_of(phases)
        .iter()
        .filter_map(|name| {
            // A state entered again and again (the bake's rounds) spans from its
            // first entry to its last exit.
            let first = phases.iter().find(|p| p.state == *name)?;
            let last = phases.iter().rev().find(|p| p.state == *name)?;
            Some((
                *name,
                first.entered,
                last.exited.unwrap_or(now).max(first.entered),
            ))
        })
        .collect()
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The same timeline as [`gantt`], drawn: an SVG picture for the run's artifacts
/// (e-mail and chat show pictures, not Mermaid). `None` without phases.
pub fn timeline_svg(title: &str, phases: &[Phase], now: DateTime<Utc>) -> Option<String> {
    let rows = charted(phases, now);
    let start = rows.iter().map(|r| r.1).min()?;
    let end = rows.iter().map(|r| r.2).max()?;
    let total = (end - start).num_milliseconds().max(1) as f64;
    let (label, width, row, top) = (190.0, 560.0, 22.0, 40.0);
    let height = top + row * rows.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n  <title>{}</title>\n  <text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        label + width + 90.0,
        xml_text(title),
        xml_text(title)
    );
    for (i, (name, from, to)) in rows.iter().enumerate() {
        let y = top + row * i as f64;
        let x = label + width * (*from - start).num_milliseconds() as f64 / total;
        let w = (width * (*to - *from).num_milliseconds() as f64 / total).max(2.0);
        let secs = (*to - *from).num_milliseconds() as f64 / 1000.0;
        let _ = writeln!(
            svg,
            "  <text x=\"10\" y=\"{:.1}\">{}</text>\n  <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#3b82f6\"><title>{} {secs:.1} s</title></rect>\n  <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">{secs:.1} s</text>",
            y + 15.0,
            xml_text(name),
            y + 4.0,
            row - 8.0,
            xml_text(name),
            x + w + 6.0,
            y + 15.0,
        );
    }
    let _ = writeln!(
        svg,
        "  <text x=\"10\" y=\"{:.1}\" fill=\"#555\">{} → {} (UTC), {:.1} s in all</text>\n</svg>",
        height - 10.0,
        start.format("%Y-%m-%d %H:%M:%S"),
        end.format("%H:%M:%S"),
        total / 1000.0
    );
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::now;
    use chrono::Duration;

    fn at(s: i64) -> DateTime<Utc> {
        now() + Duration::seconds(s)
    }

    fn phase(state: &str, from: i64, to: Option<i64>) -> Phase {
        Phase {
            state: state.into(),
            entered: at(from),
            exited: to.map(at),
        }
    }

    /// A run at Mark Release Ready, with one state that is not a phase.
    fn run() -> Vec<Phase> {
        vec![
            phase("Preflight", 0, Some(1)),
            phase("Already Running?", 1, Some(1)),
            phase("Pre-Deployment Checks", 1, Some(300)),
            phase("Wait for Approval", 300, Some(3900)),
            phase("Mark Release Ready", 4000, None),
        ]
    }

    #[test]
    fn the_gantt_chart_shows_each_phase_once_in_flow_order() {
        let chart = gantt("rc-1.4.0 on staging", &run(), at(4002)).unwrap();
        let ms = |s: i64| at(s).timestamp_millis();
        assert!(
            chart.starts_with(
                "```mermaid\ngantt\n    title rc-1.4.0 on staging\n    dateFormat x\n"
            ),
            "{chart}"
        );
        for line in [
            format!("    Preflight :done, p0, {}, {}\n", ms(0), ms(1)),
            format!(
                "    Wait for Approval :done, p2, {}, {}\n",
                ms(300),
                ms(3900)
            ),
            format!(
                "    Mark Release Ready :active, p3, {}, {}\n",
                ms(4000),
                ms(4002)
            ),
        ] {
            assert!(chart.contains(&line), "{line:?} missing:\n{chart}");
        }
        assert!(!chart.contains("Already Running"), "only phases: {chart}");
        assert_eq!(gantt("t", &[], now()), None);
    }

    #[test]
    fn the_svg_timeline_draws_one_escaped_bar_per_phase() {
        let svg = timeline_svg("rc-1.4.0 <on> staging", &run(), at(4002)).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        assert_eq!(
            svg.matches("<rect ").count(),
            4,
            "one bar per phase, none for other states: {svg}"
        );
        assert!(
            svg.contains("rc-1.4.0 &lt;on&gt; staging"),
            "escaped: {svg}"
        );
        assert!(svg.contains(">Wait for Approval 3600.0 s</title>"), "{svg}");
        assert_eq!(timeline_svg("t", &[], now()), None);
    }

    #[test]
    fn phase_times_and_the_text_chart_share_one_scale() {
        let times = phase_times(
            &[
                phase("Preflight", 0, Some(10)),
                phase("Wait for Approval", 10, Some(40)),
            ],
            at(50),
        );
        assert_eq!(
            times,
            [
                PhaseTime {
                    phase: "Preflight".into(),
                    offset_seconds: 0.0,
                    seconds: 10.0
                },
                PhaseTime {
                    phase: "Wait for Approval".into(),
                    offset_seconds: 10.0,
                    seconds: 30.0
                },
            ]
        );
        assert_eq!(
            text_gantt(&times),
            format!(
                "  {:<24} {}{} 10.0 s\n  {:<24} {}{} 30.0 s\n",
                "Preflight",
                "█".repeat(10),
                " ".repeat(30),
                "Wait for Approval",
                " ".repeat(10),
                "█".repeat(30)
            )
        );
    }
}
