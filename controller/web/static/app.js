// govguard dashboard: small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms that change something on many objects ask once (the text comes from the page,
  // already translated and escaped by the server).
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // "Select all" boxes of bulk actions.
  document.querySelectorAll("input[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      const scope = box.closest("form");
      if (!scope) return;
      scope.querySelectorAll("input[name='ids']").forEach((item) => { item.checked = box.checked; });
    });
  });
});
// htmx sends the session's CSRF token with every request it makes.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector("meta[name='csrf-token']");
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});
