// The little script kb's pages use; no build step.

// Forms that cannot be undone lightly (discard a draft, archive, revert) ask first.
document.addEventListener("submit", function (event) {
  "use strict";
  var question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The document form warns before its page is left with unsaved changes (a link, a reload,
// closing the tab); saving it does not.
(function () {
  "use strict";
  var form = document.querySelector("form[data-unsaved]");
  if (!form) return;
  var saved = new URLSearchParams(new FormData(form)).toString(), leaving = false;
  form.addEventListener("submit", function (event) { leaving = !event.defaultPrevented; });
  window.addEventListener("beforeunload", function (event) {
    if (leaving || new URLSearchParams(new FormData(form)).toString() === saved) return;
    event.preventDefault();
    event.returnValue = form.dataset.unsaved;  // older browsers show it; newer ones their own text
  });
})();

// Live preview for the document form: the body is posted (with the form's CSRF token) to
// /preview, which answers with the same sanitized HTML the document page shows.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview]");
  var out = document.getElementById("preview");
  if (!form || !out) return;
  var body = form.elements.body, timer = null, latest = 0;

  function refresh() {
    var mine = ++latest, data = new FormData(form);
    data.set("path", form.dataset.path || data.get("path") || "");
    fetch(form.dataset.preview, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { if (mine === latest) out.innerHTML = html; })
      .catch(function () { /* a failed preview must never block saving */ });
  }

  body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  refresh();
})();
