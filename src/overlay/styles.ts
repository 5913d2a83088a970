/**
 * The panel's stylesheet. It lives in the panel's shadow root, so the page's CSS does not reach
 * the panel and the panel's does not leak out. A constructed stylesheet is shared by every mounted
 * panel and is allowed under a Content-Security-Policy without `'unsafe-inline'`; browsers
 * without constructable stylesheets get a `<style>` element.
 */
const CSS = `
:host { all: initial; }
.lkm-root {
  box-sizing: border-box; width: 340px; max-height: 80vh; overflow: auto;
  font: 12px/1.35 system-ui, -apple-system, 'Segoe UI', sans-serif;
  color: #e8eaed; background: rgba(20, 22, 27, 0.92); border: 1px solid #3a3f4b;
  border-radius: 8px; box-shadow: 0 4px 16px rgba(0, 0, 0, 0.35);
}
.lkm-root *, .lkm-root *::before, .lkm-root *::after { box-sizing: inherit; }
.lkm-floating { position: fixed; right: 12px; bottom: 12px; z-index: 2147483000; }
.lkm-topbar { display: flex; align-items: center; gap: 8px; padding: 6px 10px; font-weight: 600; }
.lkm-topbar .lkm-title { flex: 1; }
.lkm-toggle {
  font: inherit; color: inherit; background: none; border: 1px solid #3a3f4b; border-radius: 4px;
  width: 22px; height: 20px; padding: 0; cursor: pointer; line-height: 1;
}
.lkm-body { padding: 0 10px 8px; }
.lkm-root[data-collapsed] .lkm-body { display: none; }
.lkm-agent + .lkm-agent { margin-top: 10px; padding-top: 8px; border-top: 1px solid #3a3f4b; }
.lkm-head { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: baseline; margin: 2px 0 6px; }
.lkm-head span { overflow-wrap: anywhere; }
.lkm-status { font-weight: 600; }
.lkm-status[data-status='live'] { color: #46a758; }
.lkm-status[data-status='ended'] { color: #9ba1a6; }
.lkm-status[data-status='waiting'] { color: #9ba1a6; font-style: italic; }
.lkm-room, .lkm-who, .lkm-turns { color: #9ba1a6; }
.lkm-table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
.lkm-table th, .lkm-table td { padding: 2px 4px; text-align: right; white-space: nowrap; }
.lkm-table th.lkm-label { text-align: left; font-weight: 400; }
.lkm-table thead th { color: #9ba1a6; font-weight: 400; }
.lkm-table tr.lkm-bottleneck { background: rgba(245, 165, 36, 0.14); }
.lkm-table tr.lkm-bottleneck th.lkm-label { font-weight: 600; }
.lkm-badge {
  font-size: 10px; text-transform: uppercase; letter-spacing: 0.03em; color: #f5a524;
  border: 1px solid currentColor; border-radius: 3px; padding: 0 3px;
}
.lkm-table tr[data-alert-level='warning'] td[data-field='p90'] { color: #f5a524; }
.lkm-table tr[data-alert-level='critical'] td[data-field='p90'] { color: #ff6369; font-weight: 600; }
.lkm-alerts { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px; }
.lkm-alert { border-radius: 10px; padding: 1px 8px; overflow-wrap: anywhere; }
.lkm-warning { background: rgba(245, 165, 36, 0.2); color: #ffca16; border: 1px solid #f5a524; }
.lkm-critical { background: rgba(229, 72, 77, 0.22); color: #ff9592; border: 1px solid #e5484d; }
.lkm-waterfall { margin-top: 8px; }
.lkm-turn-title { color: #9ba1a6; margin-bottom: 3px; }
.lkm-stage { display: grid; grid-template-columns: 78px 1fr 52px; gap: 6px; align-items: center; height: 16px; }
.lkm-stage-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lkm-dur { text-align: right; font-variant-numeric: tabular-nums; color: #9ba1a6; }
.lkm-track { position: relative; height: 10px; background: rgba(255, 255, 255, 0.05); }
.lkm-bar { position: absolute; top: 0; height: 100%; min-width: 1px; border-radius: 2px; background: #6e7681; }
.lkm-bar-stt { background: #3e8ed0; }
.lkm-bar-end_of_turn { background: #8e4ec6; }
.lkm-bar-llm { background: #46a758; }
.lkm-bar-function { background: #d6409f; }
.lkm-bar-tts { background: #f76b15; }
.lkm-bar-speech_end_lag { background: #a18072; }
.lkm-bar-agent_output { background: #ad7f58; }
.lkm-bar-uplink, .lkm-bar-downlink, .lkm-bar-network { background: #8b8d98; }
.lkm-bar[data-outcome='error'] { outline: 1px solid #e5484d; }
.lkm-bar[data-outcome='cancelled'] { opacity: 0.5; }
.lkm-tick { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #fff; }
.lkm-e2e-line { position: absolute; top: -3px; bottom: -3px; border-left: 1px dashed #e8eaed; }
.lkm-more { color: #9ba1a6; font-style: italic; }
`;

let shared: CSSStyleSheet | undefined;

/** Puts the panel's stylesheet into `root`. */
export function applyStyles(root: ShadowRoot): void {
  try {
    shared ??= new CSSStyleSheet();
    if (shared.cssRules.length === 0) shared.replaceSync(CSS);
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, shared];
    return;
  } catch {
    // No constructable stylesheets (older Safari): fall through to a <style> element.
  }
  const style = document.createElement('style');
  style.textContent = CSS;
  root.append(style);
}
