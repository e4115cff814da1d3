extension Page {
    /// `/page.css`. System fonts only (the CJK ones Linux, macOS and Windows ship), so that the
    /// page works offline and Chinese renders without a font download.
    static let style = #"""
:root {
  --ink: #1d2330; --quiet: #5b6475; --line: #d7dbe3; --paper: #ffffff; --back: #f4f6f9;
  --accent: #1f5fbf; --good: #1b7a3d; --bad: #b3261e; --warn: #8a5a00;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", "WenQuanYi Zen Hei",
    "PingFang SC", "Microsoft YaHei", sans-serif;
  color: var(--ink); background: var(--back); line-height: 1.45;
}
[hidden] { display: none !important; }
body { margin: 0 auto; max-width: 72rem; padding: 0 1.25rem 3rem; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.5rem; margin: 1.25rem 0 0.5rem; }
h2 { font-size: 1.15rem; margin: 0 0 0.75rem; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
.quiet { color: var(--quiet); }
.error { color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 0.6rem 1rem; }
.grid .wide { grid-column: span 2; }
.grid.settings { grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); }
label { display: block; font-size: 0.85rem; color: var(--quiet); margin-bottom: 0.15rem; }
.required { color: var(--bad); }
input, select, textarea, button, .button { font: inherit; }
input, select, textarea { width: 100%; box-sizing: border-box; padding: 0.35rem 0.5rem; border: 1px solid var(--line); border-radius: 5px; background: #fff; color: var(--ink); }
input[aria-invalid="true"] { border-color: var(--bad); outline: 1px solid var(--bad); }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0.9rem 0 0; padding: 0.5rem 0.9rem 0.8rem; }
legend { color: var(--quiet); font-size: 0.85rem; padding: 0 0.3rem; }
.actions { display: flex; align-items: center; gap: 0.6rem; flex-wrap: wrap; margin-top: 0.8rem; }
.spacer { flex: 1; }
button, .button { display: inline-block; padding: 0.4rem 0.85rem; border: 1px solid var(--line); border-radius: 5px; background: #fff; color: var(--ink); cursor: pointer; margin: 0; font-size: 0.95rem; }
button:hover, .button:hover { border-color: var(--accent); }
button:disabled { opacity: 0.55; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.button:has(+ input[type=file]:focus-visible) { outline: 2px solid var(--accent); outline-offset: 2px; }
.table-wrap { overflow-x: auto; }
#logout { margin-left: auto; }
#pitch.many .variant::before { content: "Variant " attr(data-variant); display: block; font-size: 0.8rem; color: var(--quiet); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.output { display: grid; grid-template-columns: 1fr 16rem; gap: 1rem; margin-top: 1rem; }
#pitch:empty, #checks:empty { display: none; }
#pitch .variant { white-space: pre-wrap; border-left: 3px solid var(--accent); padding: 0.4rem 0.8rem; margin-bottom: 0.6rem; background: #f8fafd; }
#pitch .variant .note { display: block; color: var(--warn); font-size: 0.85rem; white-space: normal; }
#checks ul { list-style: none; padding: 0; margin: 0 0 0.6rem; }
#checks li::before { display: inline-block; width: 1.3rem; font-weight: bold; }
#checks li.pass::before { content: "✓"; color: var(--good); }
#checks li.fail::before { content: "✗"; color: var(--bad); }
#checks li.fail { color: var(--bad); }
#checks h3 { font-size: 0.85rem; color: var(--quiet); margin: 0 0 0.2rem; font-weight: normal; }
progress { width: 100%; height: 1.1rem; }
table { border-collapse: collapse; width: 100%; margin-top: 0.8rem; }
caption { text-align: left; color: var(--bad); padding-bottom: 0.3rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); padding: 0.45rem 0.5rem; }
th { font-size: 0.85rem; color: var(--quiet); font-weight: 600; }
#results td.profile { color: var(--quiet); font-size: 0.88rem; white-space: pre-wrap; min-width: 12rem; max-width: 18rem; }
#results td.text { white-space: pre-wrap; }
#results td.text .original { display: block; color: var(--quiet); text-decoration: line-through; font-size: 0.85rem; margin-top: 0.3rem; }
#results .badges { display: block; margin-top: 0.3rem; font-size: 0.8rem; }
.badge { display: inline-block; border-radius: 3px; padding: 0 0.35rem; margin-right: 0.25rem; background: #fde8e6; color: var(--bad); }
.badge.ok { background: #e3f3e8; color: var(--good); }
#results td.review { white-space: nowrap; }
#results td.review button { margin: 0 0.2rem 0.3rem 0; }
#results tr.accept td.decision { color: var(--good); }
#results tr.reject td.decision { color: var(--bad); }
#results tr.edit td.decision { color: var(--accent); }
#results .editor textarea { min-height: 6rem; margin-bottom: 0.3rem; }
#results .editor input { margin-bottom: 0.3rem; }
@media (max-width: 48rem) { .output { grid-template-columns: 1fr; } .grid .wide { grid-column: auto; } }
"""#
}
