//! `inspect --html FILE`: one self-contained page, with no script, no external asset and no
//! network request. A treemap of bytes by layer, package and directory (inline SVG, which
//! scales to any width), the findings, the largest packages and files, the layers and the
//! runtime config. It follows the reader's colour scheme, and nothing in it is wider than
//! a phone's screen: tables wrap long paths.
//!
//! Every string from the image (paths, labels, package names) is escaped: an image is
//! hostile input.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{Inspection, human};
use crate::treemap::{Rect, squarify};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#fbfbfa;--fg:#1b1f24;--muted:#5b6470;--line:#d5d9de;--bad:#b3261e;--ok:#1e7b34;--card:#fff}
@media (prefers-color-scheme:dark){:root{--bg:#14161a;--fg:#e4e7eb;--muted:#9aa3ad;--line:#343a42;--bad:#ff8a80;--ok:#7ddc8f;--card:#1c1f24}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:12px;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:1.3em;margin:.2em 0;overflow-wrap:anywhere}h2{font-size:1.1em;margin:1.4em 0 .4em}
.muted{color:var(--muted)}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px;margin:10px 0}
table{width:100%;border-collapse:collapse;table-layout:fixed}
td,th{padding:3px 4px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{color:var(--muted);font-weight:600}
td.n,th.n{text-align:right;width:5.2em}
td.f,th.f{text-align:right;width:4em}
th.v{width:30%}
section h2:first-child{margin-top:0}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere;white-space:pre-wrap}
ul.findings{padding-left:1.2em;margin:.3em 0}ul.findings li{color:var(--bad);overflow-wrap:anywhere}
.ok{color:var(--ok)}
svg{display:block;width:100%;height:auto}
svg .t{fill:#111;font:11px system-ui,sans-serif;pointer-events:none}
svg .d{fill:none;stroke:rgba(0,0,0,.25);stroke-width:.5}
svg .p{stroke:rgba(0,0,0,.55);stroke-width:1}
svg .l{fill:none;stroke:var(--fg);stroke-width:2.5}
.c0{fill:#8ecae6}.c1{fill:#ffb703}.c2{fill:#90be6d}.c3{fill:#f4a3a8}.c4{fill:#cdb4db}.c5{fill:#f9c74f}
@media (prefers-color-scheme:dark){.c0{fill:#2f6f8f}.c1{fill:#9a6b00}.c2{fill:#4d7a3a}.c3{fill:#8f3f46}.c4{fill:#6a4f7d}.c5{fill:#8a7320}svg .t{fill:#f2f2f2}svg .d{stroke:rgba(255,255,255,.2)}svg .p{stroke:rgba(0,0,0,.7)}}
"#;

/// The page for `i`.
pub fn page(i: &Inspection) -> String {
    let mut o = String::new();
    let title = format!("{} — distill inspect", i.source);
    let _ = write!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    let compressed: u64 = i.layers.iter().map(|l| l.compressed).sum();
    let _ = write!(
        o,
        "<h1>{}</h1><p class=\"muted\"><code>{}</code> · {} · {} layers · {} uncompressed · {} compressed · efficiency {:.1} % ({} wasted)</p>",
        esc(&i.source),
        esc(&i.manifest),
        esc(&i.platform),
        i.layers.len(),
        human(i.size),
        human(compressed),
        i.efficiency * 100.0,
        human(i.wasted)
    );
    o += "<section><h2>Findings</h2>";
    if i.findings.is_empty() {
        o += "<p class=\"ok\">None: no shell, no package manager, not root, no setuid or world-writable files, no secrets, nothing past its end of life.</p>";
    } else {
        o += "<ul class=\"findings\">";
        for f in &i.findings {
            let _ = write!(o, "<li><b>{}</b>: {}</li>", f.check.name(), esc(&f.message));
        }
        o += "</ul>";
    }
    o += "</section><section><h2>Where the bytes go</h2><p class=\"muted\">Layer → package → directory; hover for sizes.</p>";
    o += &treemap_svg(i);
    o += "</section>";
    packages_table(&mut o, i);
    files_table(&mut o, i);
    layers_table(&mut o, i);
    config_table(&mut o, i);
    o += "<p class=\"muted\">Written by distill inspect. This page loads nothing.</p></body></html>\n";
    o
}

fn packages_table(o: &mut String, i: &Inspection) {
    *o += "<section><h2>Packages, largest first</h2><table><tr><th>package</th><th class=\"v\">version</th><th class=\"n\">bytes</th><th class=\"f\">files</th></tr>";
    for s in i.packages.iter().take(40) {
        let (name, version) = match &s.package {
            Some(p) => (p.key(), p.version.clone()),
            None => ("(not from any package)".to_owned(), String::new()),
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"f\">{}</td></tr>",
            esc(&name),
            esc(&version),
            human(s.bytes),
            s.files
        );
    }
    *o += "</table>";
    if i.packages.len() > 40 {
        let _ = write!(
            o,
            "<p class=\"muted\">{} more in the JSON report.</p>",
            i.packages.len() - 40
        );
    }
    *o += "</section>";
}

fn files_table(o: &mut String, i: &Inspection) {
    *o += "<section><h2>Largest files</h2><table><tr><th>path</th><th>package</th><th class=\"n\">bytes</th></tr>";
    for (p, s, owner) in &i.largest {
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(p),
            esc(owner.as_deref().unwrap_or("—")),
            human(*s)
        );
    }
    *o += "</table></section>";
}

fn layers_table(o: &mut String, i: &Inspection) {
    *o += "<section><h2>Layers</h2><table><tr><th class=\"n\">#</th><th>created by</th><th class=\"n\">bytes</th><th class=\"n\">compressed</th></tr>";
    for (n, l) in i.layers.iter().enumerate() {
        let _ = write!(
            o,
            "<tr><td class=\"n\">{}</td><td><code>{}</code><br><span class=\"muted\"><code>{}</code></span></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            n + 1,
            esc(&l.created_by),
            esc(&l.digest),
            human(l.bytes),
            human(l.compressed)
        );
    }
    *o += "</table></section>";
}

fn config_table(o: &mut String, i: &Inspection) {
    let c = &i.config["config"];
    *o += "<section><h2>What it runs</h2><table>";
    let mut row = |k: &str, v: String| {
        let _ = write!(
            o,
            "<tr><th style=\"width:7em\">{k}</th><td><code>{}</code></td></tr>",
            esc(&v)
        );
    };
    row("user", i.user());
    for (k, name) in [
        ("Entrypoint", "entrypoint"),
        ("Cmd", "cmd"),
        ("Env", "env"),
        ("ExposedPorts", "ports"),
        ("Labels", "labels"),
    ] {
        if !c[k].is_null() {
            row(name, c[k].to_string());
        }
    }
    row(
        "workdir",
        c["WorkingDir"].as_str().unwrap_or("/").to_owned(),
    );
    let accounts: Vec<String> = i
        .accounts()
        .iter()
        .map(|a| format!("{} ({}:{}, {}, {})", a[0], a[1], a[2], a[3], a[4]))
        .collect();
    if !accounts.is_empty() {
        row("accounts", accounts.join("\n"));
    }
    *o += "</table></section>";
}

const W: f64 = 1000.0;
const H: f64 = 640.0;

/// A package's bytes in a layer, and its directories'.
type PackageBytes = (String, u64, Vec<(String, u64)>);
/// Bytes of each layer, by package, by directory.
type Tree = Vec<(String, u64, Vec<PackageBytes>)>;

fn tree(i: &Inspection) -> Tree {
    let mut out = Vec::new();
    for (n, facts) in i.walk.layers.iter().enumerate() {
        let mut by: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (path, size) in &facts.files {
            let owner = i
                .owners
                .of(path)
                .map(|o| i.owners.packages[o].key())
                .unwrap_or_else(|| "(not from any package)".to_owned());
            let dir = path.rsplit_once('/').map_or("/", |(d, _)| d).to_owned();
            *by.entry(owner).or_default().entry(dir).or_default() += size;
        }
        let mut pkgs: Vec<PackageBytes> = by
            .into_iter()
            .map(|(p, dirs)| {
                let mut dirs: Vec<(String, u64)> = dirs.into_iter().collect();
                dirs.sort_by_key(|d| std::cmp::Reverse(d.1));
                (
                    p,
                    dirs.iter().map(|d| d.1).sum(),
                    top(dirs, 8, "other directories"),
                )
            })
            .collect();
        pkgs.sort_by_key(|p| std::cmp::Reverse(p.1));
        let total = pkgs.iter().map(|p| p.1).sum();
        let pkgs = if pkgs.len() > 16 {
            let rest: u64 = pkgs[15..].iter().map(|p| p.1).sum();
            let n = pkgs.len() - 15;
            pkgs.truncate(15);
            pkgs.push((format!("{n} smaller packages"), rest, Vec::new()));
            pkgs
        } else {
            pkgs
        };
        out.push((format!("layer {}", n + 1), total, pkgs));
    }
    out
}

fn top(mut v: Vec<(String, u64)>, n: usize, rest: &str) -> Vec<(String, u64)> {
    if v.len() > n {
        let more: u64 = v[n - 1..].iter().map(|d| d.1).sum();
        v.truncate(n - 1);
        v.push((rest.to_owned(), more));
    }
    v
}

fn treemap_svg(i: &Inspection) -> String {
    let mut o = format!(
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"bytes by layer, package and directory\">"
    );
    let t = tree(i);
    let area = Rect {
        x: 0.0,
        y: 0.0,
        w: W,
        h: H,
    };
    let layer_rects = squarify(&t.iter().map(|l| l.1 as f64).collect::<Vec<_>>(), area);
    for (li, ((lname, lbytes, pkgs), lr)) in t.iter().zip(&layer_rects).enumerate() {
        if lr.w <= 0.0 {
            continue;
        }
        let inner = lr.inset(3.0);
        let prects = squarify(&pkgs.iter().map(|p| p.1 as f64).collect::<Vec<_>>(), inner);
        for ((pname, pbytes, dirs), pr) in pkgs.iter().zip(&prects) {
            if pr.w <= 0.0 {
                continue;
            }
            let _ = write!(
                o,
                "<rect class=\"p c{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} · {} · {}</title></rect>",
                li % 6,
                pr.x,
                pr.y,
                pr.w,
                pr.h,
                esc(lname),
                esc(pname),
                human(*pbytes)
            );
            let drects = squarify(
                &dirs.iter().map(|d| d.1 as f64).collect::<Vec<_>>(),
                pr.inset(1.0),
            );
            for ((dname, dbytes), dr) in dirs.iter().zip(&drects) {
                if dr.w < 2.0 || dr.h < 2.0 {
                    continue;
                }
                let _ = write!(
                    o,
                    "<rect class=\"d\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} · {} · /{} · {}</title></rect>",
                    dr.x,
                    dr.y,
                    dr.w,
                    dr.h,
                    esc(lname),
                    esc(pname),
                    esc(dname),
                    human(*dbytes)
                );
            }
            if pr.w > 70.0 && pr.h > 16.0 {
                let chars = ((pr.w - 6.0) / 6.2) as usize;
                let label: String = pname.chars().take(chars).collect();
                let _ = write!(
                    o,
                    "<text class=\"t\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    pr.x + 3.0,
                    pr.y + 13.0,
                    esc(&label)
                );
            }
        }
        let _ = write!(
            o,
            "<rect class=\"l\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} · {}</title></rect>",
            lr.x,
            lr.y,
            lr.w,
            lr.h,
            esc(lname),
            human(*lbytes)
        );
    }
    o += "</svg>";
    o
}
