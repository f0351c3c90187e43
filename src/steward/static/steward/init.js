// Loaded as a module (no inline script, so the Content-Security-Policy can forbid it).
import { initAll } from "/static/govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
