// Loaded as a module (no inline script, so the Content-Security-Policy can forbid it).
import { initAll } from "/static/govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// Radios that reveal a follow-up question (`data-steward-reveals` on the radios, `data-reveals="<id>"`
// on a radio). GOV.UK Frontend's own reveal puts aria-expanded on the radio, which ARIA does not allow
// there and axe fails as critical (alphagov/govuk-frontend#979); here the revealed fields simply follow
// their radio in reading order. Without JavaScript every follow-up stays visible.
function syncReveals(group) {
  for (const radio of group.querySelectorAll('input[type="radio"][data-reveals]')) {
    document.getElementById(radio.dataset.reveals)?.classList.toggle("govuk-radios__conditional--hidden", !radio.checked);
  }
}
for (const group of document.querySelectorAll("[data-steward-reveals]")) {
  group.addEventListener("change", () => syncReveals(group));
  window.addEventListener("pageshow", () => syncReveals(group));
  syncReveals(group);
}
